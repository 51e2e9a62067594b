/*
 * ipp-wait.h - wait for a job at a printer to settle, for the IPP driver
 * tests (include after cmocka.h; header-only because it fails the test).
 *
 * Why: every driver test submits a job and then needs it finished, or in a
 * given state, within a bound; one loop, so they all poll alike.
 */
#pragma once

#include <unistd.h>

#include "printer.h"
#include "testutil.h"

/*
 * Poll handle every 50 ms until its state is want, a final state (completed,
 * aborted, canceled), or it is held stopped; the test fails on a status
 * error or when it has not settled within ms. Returns the last status.
 */
static inline lab_pjob_status_t ipp_wait_job(lab_printer_t *p, const char *handle,
                                             lab_pjob_state_t want, int ms)
{
        long long end = lab_test_now_ms() + ms;
        lab_pjob_status_t st = {0};
        lab_error_t err = {0};

        while (lab_test_now_ms() < end) {
                if (lab_printer_job_status(p, handle, &st, &err) < 0)
                        fail_msg("job %s: %s: %s", handle, err.keyword, err.message);
                if (st.state == want || st.state == LAB_PJOB_COMPLETED ||
                    st.state == LAB_PJOB_ABORTED || st.state == LAB_PJOB_CANCELED || st.stopped)
                        return st;
                usleep(50000);
        }
        fail_msg("job %s: still %s after %d ms", handle, lab_pjob_state_to_string(st.state), ms);
        return st;
}
