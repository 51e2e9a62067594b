/*
 * fuzz-proto.c - fuzz target for every parser of the platform's answers
 * (platform-proto.c) and of the job object (job-spec.c): all of it is network input.
 * Each input goes through each parser; the sanitizers and these checks catch
 * what a hostile platform (or a man in the middle of a broken TLS setup)
 * could do with a body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job-spec.h"
#include "platform-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *body = (const char *)data;
        lab_proto_assignments_t a;
        lab_proto_job_action_t *actions;
        lab_error_t err;
        json_t *job;
        char **uuids, code[64], detail[256];
        size_t n;

        if (lab_proto_parse_assignments(body, size, &a, &err) == 0) {
                for (size_t i = 0; i < json_array_size(a.jobs); i++) {
                        lab_job_spec_t spec;

                        if (lab_job_spec_parse(json_array_get(a.jobs, i), &spec, &err) == 0) {
                                if (!lab_id_valid(spec.id) || spec.quantity < 1 ||
                                    strlen(spec.asset_sha256) != 64)
                                        abort();
                                lab_job_spec_done(&spec);
                        }
                }
                lab_proto_assignments_done(&a);
        }
        if (lab_proto_parse_accept(body, size, &job, &err) == 0)
                json_decref(job);
        if (lab_proto_parse_ack(body, size, &uuids, &n, &err) == 0) {
                for (size_t i = 0; i < n; i++)
                        if (strlen(uuids[i]) != 36)
                                abort();
                lab_proto_strv_free(uuids);
        }
        if (lab_proto_parse_reconcile(body, size, &actions, &n, &err) == 0)
                lab_proto_actions_free(actions, n);
        lab_proto_parse_problem(body, size, code, sizeof code, detail, sizeof detail);
        if (strchr(code, '\n') || strchr(detail, '\n'))
                abort();
        return 0;
}
