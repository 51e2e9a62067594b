/*
 * event-util.h - small helpers for sd-event sources that several modules use.
 */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

/* Arm (or re-arm) a one-shot CLOCK_MONOTONIC timer source *s to fire after delay_usec. */
int lab_timer_arm(sd_event *e, sd_event_source **s, uint64_t delay_usec,
                  sd_event_time_handler_t handler, void *userdata, const char *description);
