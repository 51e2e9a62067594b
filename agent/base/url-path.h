/*
 * url-path.h - the one grammar of ids, and the one way a URL is built from them.
 *
 * Why: ids come from the network (job ids in offers) and from the config
 * (printer names, the lab id), and they end up in URL paths, file names and
 * printer job names. A job id of ".." once turned POST /v1/jobs/../accept into
 * POST /v1/accept, because libcurl removes dot segments like any client. So
 * ids follow one strict grammar, checked by lab_id_valid() wherever one is
 * read, and every URL the agent sends to the platform is built by
 * lab_url_build(), which percent-encodes each variable segment and refuses a
 * segment that would change the path (empty, "." or ".."), whatever the
 * caller checked before. Pure: no I/O, no allocation but the result.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The longest id (job, asset, printer), in bytes. */
#define LAB_ID_MAX 128

/*
 * Whether id follows the id grammar of docs/protocol.md: 1 to LAB_ID_MAX
 * characters from A-Z a-z 0-9 '.' '_' ':' '-', and not "." or "..".
 */
bool lab_id_valid(const char *id); /* I - id, NULL is invalid */

/*
 * Build base + tmpl (+ "?" query). tmpl is a fixed absolute path ("/v1/jobs/{}/accept")
 * in which each "{}" is a whole segment, replaced by the next of segments,
 * percent-encoded (RFC 3986 unreserved characters stay, every other byte is
 * %XX). Trailing '/' of base are dropped. Returns 0 and a malloc'd URL in
 * *ret, or -EINVAL (nothing allocated) when a segment is empty, "." or "..",
 * when the count of segments is not the count of "{}", when tmpl is not a
 * plain path, when base holds '?', '#' or a control character or space, or
 * when query holds anything but A-Z a-z 0-9 and "-._~=&"; -ENOMEM.
 */
int lab_url_build(const char *base,            /* I - "https://host/api" */
                  const char *tmpl,            /* I - "/v1/labs/{}/events" */
                  const char *const *segments, /* I - one per "{}" */
                  size_t n_segments,           /* I - how many */
                  const char *query,           /* I - "wait=25", or NULL */
                  char **ret);                 /* O - the URL */

/* Whether c (a byte) is an RFC 3986 unreserved character: kept as is in a segment. */
bool lab_url_unreserved(char c);
