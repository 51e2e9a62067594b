/*
 * worker-pool.c - bounded thread pool with completions on the loop (see worker-pool.h).
 *
 * One mutex guards two FIFO lists: todo (waiting for a thread) and finished
 * (work done, waiting for its done on the loop). A worker that finishes an
 * item moves it to finished and writes the eventfd; the loop drains the
 * eventfd and runs every finished item's done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "worker-pool.h"

typedef struct lab_pool_item_s {
        lab_pool_work_t work;
        lab_pool_done_t done;
        void *userdata;
        struct lab_pool_item_s *next;
} lab_pool_item_t;

typedef struct lab_pool_list_s {
        lab_pool_item_t *head, *tail;
} lab_pool_list_t;

struct lab_pool_s {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        lab_pool_list_t todo, finished;
        bool stopping;
        unsigned pending; /* submitted, done not yet called (loop thread only) */
        pthread_t *threads;
        unsigned n_threads;
        int efd;
        sd_event_source *source;
        char *name;
};

/* Append item to list. */
static void list_push(lab_pool_list_t *l, lab_pool_item_t *item)
{
        item->next = NULL;
        if (l->tail)
                l->tail->next = item;
        else
                l->head = item;
        l->tail = item;
}

/* Take the first item of list, or NULL. */
static lab_pool_item_t *list_pop(lab_pool_list_t *l)
{
        lab_pool_item_t *item = l->head;

        if (item) {
                l->head = item->next;
                if (!l->head)
                        l->tail = NULL;
        }
        return item;
}

/* A worker: take, run, hand back; until the pool stops. */
static void *worker_main(void *userdata)
{
        lab_pool_t *p = userdata;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                lab_pool_item_t *item;

                while (!p->stopping && !p->todo.head)
                        pthread_cond_wait(&p->wake, &p->lock);
                if (p->stopping)
                        break;
                item = list_pop(&p->todo);
                pthread_mutex_unlock(&p->lock);

                item->work(item->userdata);

                pthread_mutex_lock(&p->lock);
                list_push(&p->finished, item);
                /* Never fails for a counter far below its maximum. */
                (void)!eventfd_write(p->efd, 1);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* Run done for every finished item (loop thread). */
static void dispatch_finished(lab_pool_t *p)
{
        lab_pool_list_t finished;

        pthread_mutex_lock(&p->lock);
        finished = p->finished;
        p->finished = (lab_pool_list_t){0};
        pthread_mutex_unlock(&p->lock);

        for (lab_pool_item_t *item = finished.head, *next; item; item = next) {
                next = item->next;
                p->pending--;
                item->done(item->userdata, true);
                free(item);
        }
}

/* The eventfd is readable: some work finished. */
static int on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        lab_pool_t *p = userdata;
        eventfd_t n;

        (void)eventfd_read(fd, &n);
        dispatch_finished(p);
        return 0;
}

int lab_pool_new(lab_pool_t **ret, sd_event *e, unsigned threads, const char *name)
{
        lab_pool_t *p;
        int r;

        if (threads < 1 || threads > 64)
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->wake, NULL);
        p->efd = -1;
        p->name = strdup(name);
        p->threads = calloc(threads, sizeof *p->threads);
        if (!p->name || !p->threads) {
                r = -ENOMEM;
                goto fail;
        }
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->efd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e, &p->source, p->efd, EPOLLIN, on_finished, p);
        if (r < 0)
                goto fail;
        (void)sd_event_source_set_description(p->source, p->name);
        for (; p->n_threads < threads; p->n_threads++) {
                r = -pthread_create(&p->threads[p->n_threads], NULL, worker_main, p);
                if (r < 0)
                        goto fail;
        }
        *ret = p;
        return 0;
fail:
        lab_pool_free(p);
        return r;
}

int lab_pool_submit(lab_pool_t *p, lab_pool_work_t work, lab_pool_done_t done, void *userdata)
{
        lab_pool_item_t *item = calloc(1, sizeof *item);

        if (!item)
                return -ENOMEM;
        item->work = work;
        item->done = done;
        item->userdata = userdata;
        pthread_mutex_lock(&p->lock);
        list_push(&p->todo, item);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        p->pending++;
        return 0;
}

unsigned lab_pool_pending(const lab_pool_t *p)
{
        return p->pending;
}

unsigned lab_pool_threads(const lab_pool_t *p)
{
        return p->n_threads;
}

void lab_pool_free(lab_pool_t *p)
{
        lab_pool_item_t *item;

        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);

        dispatch_finished(p);
        while ((item = list_pop(&p->todo))) {
                item->done(item->userdata, false);
                free(item);
        }
        sd_event_source_disable_unref(p->source);
        if (p->efd >= 0)
                close(p->efd);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p->threads);
        free(p->name);
        free(p);
}
