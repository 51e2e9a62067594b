/*
 * metrics-rewrite.c - rewrite a metrics file COUNT times with the agent's own writer
 * (lab_metrics_write_file) and formatter (lab_prom_*), for test_textfile.py, which scrapes
 * node_exporter meanwhile.
 *
 * usage: metrics-rewrite PATH COUNT INTERVAL_MS
 *
 * Rewrite i (1..COUNT) says labagent_prints_total{printer="ds620"} = i and
 * labagent_defects_total{printer="ds620"} = i / 10, a histogram of i
 * observations, and a number of stock lines that changes with i (so the file's size
 * changes from one rewrite to the next, as the agent's does). After each rewrite it prints
 * "wrote i" on stdout (flushed). A failed write prints "error KEYWORD: SENTENCE" on stderr
 * and exits 1. Bounded: COUNT at most 100000, INTERVAL_MS at most 10000.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics-stage.h"
#include "prom-text.h"

static char *text_of(unsigned i)
{
        lab_prom_histogram_t h;
        lab_prom_t p = {0};
        char item[32];

        lab_prom_family(&p, "labagent_prints_total", LAB_PROM_COUNTER, "Copies printed.");
        lab_prom_sample(&p, (lab_prom_label_t[]){{"printer", "ds620"}}, 1, i);
        lab_prom_sample(&p, (lab_prom_label_t[]){{"printer", "q\"uote\\d\nname"}}, 1, 2 * i);
        lab_prom_family(&p, "labagent_defects_total", LAB_PROM_COUNTER, "Defects reported.");
        lab_prom_sample(&p, (lab_prom_label_t[]){{"printer", "ds620"}}, 1, i / 10);
        lab_prom_family(&p, "labagent_stock_remaining", LAB_PROM_GAUGE, "What is left.");
        for (unsigned k = 0; k < 1 + i % 17; k++) {
                snprintf(item, sizeof item, "paper-%u", k);
                lab_prom_sample(
                    &p,
                    (lab_prom_label_t[]){{"printer", "ds620"}, {"item", item}, {"unit", "prints"}},
                    3, 400.0 - i - k / 4.0);
        }
        lab_prom_histogram_init(&h, lab_metrics_render_buckets, lab_metrics_render_n_buckets);
        for (unsigned k = 0; k < i; k++)
                lab_prom_histogram_observe(&h, 0.1 * k);
        lab_prom_family(&p, "labagent_render_seconds", LAB_PROM_HISTOGRAM, "Render times.");
        lab_prom_histogram(&p, NULL, 0, &h);
        return lab_prom_steal(&p, NULL, NULL);
}

int main(int argc, char **argv)
{
        unsigned long count, interval_ms;
        struct timespec pause;

        if (argc != 4) {
                fprintf(stderr, "usage: %s PATH COUNT INTERVAL_MS\n", argv[0]);
                return 2;
        }
        count = strtoul(argv[2], NULL, 10);
        interval_ms = strtoul(argv[3], NULL, 10);
        if (count < 1 || count > 100000 || interval_ms > 10000) {
                fprintf(stderr, "COUNT 1..100000, INTERVAL_MS 0..10000\n");
                return 2;
        }
        pause =
            (struct timespec){(time_t)(interval_ms / 1000), (long)(interval_ms % 1000) * 1000000};
        for (unsigned i = 1; i <= count; i++) {
                char *text = text_of(i);
                lab_error_t err = {0};
                int r;

                if (!text) {
                        fprintf(stderr, "error formatting rewrite %u\n", i);
                        return 1;
                }
                r = lab_metrics_write_file(argv[1], text, strlen(text), &err);
                free(text);
                if (r < 0) {
                        fprintf(stderr, "error %s: %s\n", err.keyword, err.message);
                        return 1;
                }
                printf("wrote %u\n", i);
                fflush(stdout);
                if (interval_ms)
                        nanosleep(&pause, NULL);
        }
        return 0;
}
