/*
 * event-util.c - small sd-event helpers (see event-util.h).
 */
#include "event-util.h"

int lab_timer_arm(sd_event *e, sd_event_source **s, uint64_t delay_usec,
                  sd_event_time_handler_t handler, void *userdata, const char *description)
{
        uint64_t now;
        int r;

        r = sd_event_now(e, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        if (!*s) {
                r = sd_event_add_time(e, s, CLOCK_MONOTONIC, now + delay_usec, 0, handler,
                                      userdata);
                if (r >= 0)
                        sd_event_source_set_description(*s, description);
                return r;
        }
        r = sd_event_source_set_time(*s, now + delay_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        return r;
}
