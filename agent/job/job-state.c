/*
 * job-state.c - the job state machine's table (see job-state.h); the store's one
 * write of jobs.state checks every move against it.
 */
#include <errno.h>
#include <string.h>

#include "job-state.h"
#include "macro.h"

static const char *const names[LAB_JOB_STATE_MAX] = {
    [LAB_JOB_CLAIMING] = "claiming",
    [LAB_JOB_ACCEPTED] = "accepted",
    [LAB_JOB_DOWNLOADING] = "downloading",
    [LAB_JOB_DOWNLOADED] = "downloaded",
    [LAB_JOB_RENDERING] = "rendering",
    [LAB_JOB_RENDERED] = "rendered",
    [LAB_JOB_QUEUED] = "queued",
    [LAB_JOB_SUBMITTING] = "submitting",
    [LAB_JOB_PRINTING] = "printing",
    [LAB_JOB_PRINTED] = "printed",
    [LAB_JOB_REPORTED] = "reported",
    [LAB_JOB_REJECTED] = "rejected",
    [LAB_JOB_HELD] = "held",
    [LAB_JOB_REROUTED] = "rerouted",
    [LAB_JOB_UNCERTAIN] = "uncertain",
    [LAB_JOB_CANCELED] = "canceled",
    [LAB_JOB_FAILED] = "failed",
    [LAB_JOB_DROPPED] = "dropped",
};

#define S(x) (1u << LAB_JOB_##x)

/*
 * Where each state may go. Every live state may end canceled (platform or
 * technician) or dropped (not the lab's job any more); those are added below.
 */
static const unsigned next[LAB_JOB_STATE_MAX] = {
    /* the link: claim, fetch, verify */
    [LAB_JOB_CLAIMING] = S(ACCEPTED),
    [LAB_JOB_ACCEPTED] = S(DOWNLOADING) | S(FAILED),
    [LAB_JOB_DOWNLOADING] = S(DOWNLOADED) | S(FAILED) | S(REJECTED),
    /* render: a bad stored spec fails, no printer holds */
    [LAB_JOB_DOWNLOADED] = S(RENDERING) | S(HELD) | S(FAILED),
    /* downloaded again: a crash interrupted the render, which is redone */
    [LAB_JOB_RENDERING] = S(RENDERED) | S(REJECTED) | S(HELD) | S(FAILED) | S(DOWNLOADED),
    [LAB_JOB_RENDERED] = S(QUEUED) | S(HELD) | S(REROUTED),
    /* held for no printer or a full disk: tried again, or held for a new reason */
    [LAB_JOB_HELD] = S(RENDERING) | S(HELD) | S(QUEUED) | S(FAILED),
    [LAB_JOB_REROUTED] = S(RENDERING) | S(HELD),
    /* at the printer: exactly once */
    [LAB_JOB_QUEUED] = S(SUBMITTING) | S(REROUTED) | S(HELD),
    /* back to queued only when the printer is known not to have the copy */
    [LAB_JOB_SUBMITTING] = S(PRINTING) | S(QUEUED) | S(UNCERTAIN) | S(FAILED) | S(PRINTED),
    /* a copy aborted and sent again: back to submitting or queued */
    [LAB_JOB_PRINTING] = S(PRINTED) | S(QUEUED) | S(SUBMITTING) | S(UNCERTAIN) | S(FAILED),
    /* a person decides: it printed, or print it again */
    [LAB_JOB_UNCERTAIN] = S(PRINTED) | S(QUEUED) | S(PRINTING) | S(FAILED),
    /* a person found a print bad: its reprint is a new copy, the job prints again */
    [LAB_JOB_PRINTED] = S(REPORTED) | S(PRINTING),
};

/* States from which nothing moves on. */
static const unsigned final_states =
    S(REPORTED) | S(REJECTED) | S(CANCELED) | S(FAILED) | S(DROPPED);

const char *lab_job_state_to_string(lab_job_state_t s)
{
        return s >= 0 && s < LAB_JOB_STATE_MAX ? names[s] : NULL;
}

lab_job_state_t lab_job_state_from_string(const char *s)
{
        for (int i = 0; s && i < LAB_JOB_STATE_MAX; i++)
                if (strcmp(names[i], s) == 0)
                        return (lab_job_state_t)i;
        return LAB_JOB_STATE_INVALID;
}

static const char *const copy_names[LAB_COPY_STATE_MAX] = {
    [LAB_COPY_QUEUED] = "queued",       [LAB_COPY_SUBMITTING] = "submitting",
    [LAB_COPY_PRINTING] = "printing",   [LAB_COPY_PRINTED] = "printed",
    [LAB_COPY_UNCERTAIN] = "uncertain", [LAB_COPY_FAILED] = "failed",
    [LAB_COPY_CANCELED] = "canceled",   [LAB_COPY_REROUTED] = "rerouted",
};

const char *lab_copy_state_to_string(lab_copy_state_t s)
{
        return s >= 0 && s < LAB_COPY_STATE_MAX ? copy_names[s] : NULL;
}

lab_copy_state_t lab_copy_state_from_string(const char *s)
{
        for (int i = 0; s && i < LAB_COPY_STATE_MAX; i++)
                if (strcmp(copy_names[i], s) == 0)
                        return (lab_copy_state_t)i;
        return LAB_COPY_STATE_INVALID;
}

bool lab_job_state_in(lab_job_state_t s, const lab_job_state_t *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                if (v[i] == s)
                        return true;
        return false;
}

bool lab_job_state_is_final(lab_job_state_t s)
{
        return s >= 0 && s < LAB_JOB_STATE_MAX && (final_states & (1u << s));
}

bool lab_job_state_can_move(lab_job_state_t from, lab_job_state_t to)
{
        if (from < 0 || from >= LAB_JOB_STATE_MAX || to < 0 || to >= LAB_JOB_STATE_MAX)
                return false;
        /* The one way out of a finished state: a reprint for a bad print (console). */
        if (from == LAB_JOB_REPORTED)
                return to == LAB_JOB_PRINTING;
        if (lab_job_state_is_final(from))
                return false;
        /* A printed copy is a fact: it can only be reported, never canceled or dropped. */
        if ((to == LAB_JOB_CANCELED || to == LAB_JOB_DROPPED) && from != LAB_JOB_PRINTED)
                return true;
        return (next[from] & (1u << to)) != 0;
}

bool lab_job_state_can_start(lab_job_state_t s)
{
        return s == LAB_JOB_CLAIMING || s == LAB_JOB_REJECTED;
}

lab_job_state_t lab_job_state_from_copies(const lab_copy_counts_t *c)
{
        unsigned active = c->queued + c->submitting + c->printing;
        unsigned done = c->printed + c->uncertain + c->failed + c->canceled;

        if (active + done == 0)
                return LAB_JOB_STATE_INVALID;
        if (c->printed == active + done)
                return LAB_JOB_PRINTED;
        if (active > 0) {
                if (c->printing > 0 || done > 0)
                        return LAB_JOB_PRINTING;
                return c->submitting > 0 ? LAB_JOB_SUBMITTING : LAB_JOB_QUEUED;
        }
        if (c->uncertain > 0)
                return LAB_JOB_UNCERTAIN;
        if (c->failed > 0)
                return LAB_JOB_FAILED;
        return c->printed > 0 ? LAB_JOB_PRINTED : LAB_JOB_CANCELED;
}
