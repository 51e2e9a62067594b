/*
 * config-yaml.c - turn the YAML text into a small node tree that remembers positions.
 *
 * Why: libyaml's document API resolves aliases silently and hides explicit
 * tags, and its marks are 0-based. The config loader wants to refuse
 * aliases, anchors, tags and a second document, and to report every node at
 * a 1-based line:column. So this file drives libyaml's event API itself and
 * keeps exactly what the schema walker needs. It never recurses: the open
 * containers live in a fixed stack. Nesting deeper than LAB_CONFIG_MAX_DEPTH
 * (eight times what the schema allows) stops the parse with one wrong_type
 * problem: libyaml's scanner is quadratic in flow nesting ("[[[[..."), so a
 * hostile 1 MiB file would otherwise cost minutes of CPU. Nesting the schema
 * does not allow but below that limit is kept, and the schema walker reports
 * it with its key path. A YAML syntax error is reported as one yaml_syntax
 * problem and nothing is decoded.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config-private.h"

static inline void yaml_parser_deletep(yaml_parser_t *p)
{
        yaml_parser_delete(p);
}

static inline void yaml_event_deletep(yaml_event_t *e)
{
        yaml_event_delete(e);
}

/* Clamp a 0-based libyaml mark to a 1-based unsigned position. */
static unsigned mark_pos(size_t v)
{
        return v >= UINT_MAX ? UINT_MAX : (unsigned)v + 1;
}

void lab_ynode_free(lab_ynode_t *n)
{
        /* Depth is bounded by LAB_CONFIG_MAX_DEPTH, so this recursion is too. */
        if (!n)
                return;
        for (size_t i = 0; i < n->n_items; i++)
                lab_ynode_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
}

/* Make a node of type at the event's start mark. */
static lab_ynode_t *ynode_new(lab_ynode_type_t type, const yaml_event_t *e)
{
        lab_ynode_t *n = calloc(1, sizeof *n);

        if (!n)
                return NULL;
        n->type = type;
        n->line = mark_pos(e->start_mark.line);
        n->column = mark_pos(e->start_mark.column);
        return n;
}

/* Append child to parent's items. */
static int ynode_append(lab_ynode_t *parent, lab_ynode_t *child)
{
        if (parent->n_items == parent->n_allocated) {
                size_t n = parent->n_allocated ? parent->n_allocated * 2 : 8;
                lab_ynode_t **items = reallocarray(parent->items, n, sizeof *items);

                if (!items)
                        return -ENOMEM;
                parent->items = items;
                parent->n_allocated = n;
        }
        parent->items[parent->n_items++] = child;
        return 0;
}

/* Make the node an event describes (scalar, alias or the start of a container). */
static lab_ynode_t *ynode_from_event(const yaml_event_t *e)
{
        lab_ynode_t *n;

        switch (e->type) {
        case YAML_SCALAR_EVENT:
                n = ynode_new(LAB_YNODE_SCALAR, e);
                if (!n)
                        return NULL;
                n->value = malloc(e->data.scalar.length + 1);
                if (!n->value) {
                        free(n);
                        return NULL;
                }
                memcpy(n->value, e->data.scalar.value, e->data.scalar.length);
                n->value[e->data.scalar.length] = '\0';
                n->length = e->data.scalar.length;
                n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                n->anchored = e->data.scalar.anchor != NULL;
                n->tagged = e->data.scalar.tag != NULL;
                return n;
        case YAML_ALIAS_EVENT:
                return ynode_new(LAB_YNODE_ALIAS, e);
        case YAML_SEQUENCE_START_EVENT:
                n = ynode_new(LAB_YNODE_SEQUENCE, e);
                if (n) {
                        n->anchored = e->data.sequence_start.anchor != NULL;
                        n->tagged = e->data.sequence_start.tag != NULL;
                }
                return n;
        case YAML_MAPPING_START_EVENT:
                n = ynode_new(LAB_YNODE_MAPPING, e);
                if (n) {
                        n->anchored = e->data.mapping_start.anchor != NULL;
                        n->tagged = e->data.mapping_start.tag != NULL;
                }
                return n;
        default:
                return NULL;
        }
}

/* Report libyaml's error as a yaml_syntax problem; -ENOMEM if libyaml ran out of memory. */
static int report_parser_error(lab_config_ctx_t *ctx, const yaml_parser_t *p, const char *buf,
                               size_t len)
{
        unsigned line, column;

        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;

        if (p->error == YAML_READER_ERROR) {
                /* Reader errors carry a byte offset, not a mark. */
                size_t off = p->problem_offset < len ? p->problem_offset : len;
                size_t bol = 0;

                line = 1;
                for (size_t i = 0; i < off; i++)
                        if (buf[i] == '\n') {
                                line++;
                                bol = i + 1;
                        }
                column = mark_pos(off - bol);
                return lab_config_problem_add(ctx, line, column, "", "yaml_syntax", "%s",
                                              p->problem ? p->problem : "cannot read the text");
        }

        line = mark_pos(p->problem_mark.line);
        column = mark_pos(p->problem_mark.column);
        if (p->context)
                return lab_config_problem_add(
                    ctx, line, column, "", "yaml_syntax", "%s (%s at line %u, column %u)",
                    p->problem ? p->problem : "syntax error", p->context,
                    mark_pos(p->context_mark.line), mark_pos(p->context_mark.column));
        return lab_config_problem_add(ctx, line, column, "", "yaml_syntax", "%s",
                                      p->problem ? p->problem : "syntax error");
}

int lab_yaml_read(lab_config_ctx_t *ctx, const char *buf, size_t len, lab_ynode_t **ret)
{
        _cleanup_(yaml_parser_deletep) yaml_parser_t parser;
        _cleanup_(lab_ynode_freep) lab_ynode_t *root = NULL;
        lab_ynode_t *stack[LAB_CONFIG_MAX_DEPTH];
        size_t depth = 0; /* open containers */
        unsigned documents = 0;

        *ret = NULL;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

        for (;;) {
                _cleanup_(yaml_event_deletep) yaml_event_t e = {.type = YAML_NO_EVENT};
                lab_ynode_t *n;
                int r;

                if (!yaml_parser_parse(&parser, &e)) {
                        r = report_parser_error(ctx, &parser, buf, len);
                        return r < 0 ? r : 0; /* *ret stays NULL: nothing is decoded */
                }

                switch (e.type) {
                case YAML_STREAM_END_EVENT:
                        *ret = TAKE_PTR(root);
                        return 0;
                case YAML_DOCUMENT_START_EVENT:
                        if (++documents > 1) {
                                /* Keep the first document so its problems are reported too. */
                                r = lab_config_problem_add(
                                    ctx, mark_pos(e.start_mark.line), mark_pos(e.start_mark.column),
                                    "", "multiple_documents",
                                    "a second YAML document starts here; the configuration "
                                    "must be one document");
                                if (r < 0)
                                        return r;
                                *ret = TAKE_PTR(root);
                                return 0;
                        }
                        break;
                case YAML_SCALAR_EVENT:
                case YAML_ALIAS_EVENT:
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT: {
                        bool opens = e.type == YAML_SEQUENCE_START_EVENT ||
                                     e.type == YAML_MAPPING_START_EVENT;

                        if (opens && depth == LAB_CONFIG_MAX_DEPTH) {
                                r = lab_config_problem_add(
                                    ctx, mark_pos(e.start_mark.line), mark_pos(e.start_mark.column),
                                    "", "wrong_type",
                                    "nested more than %d levels deep; the configuration "
                                    "never nests more than 3",
                                    LAB_CONFIG_MAX_DEPTH);
                                return r < 0 ? r : 0; /* *ret stays NULL: nothing is decoded */
                        }
                        n = ynode_from_event(&e);
                        if (!n)
                                return -ENOMEM;
                        if (depth == 0) {
                                lab_ynode_free(root); /* only one root per document */
                                root = n;
                        } else if (ynode_append(stack[depth - 1], n) < 0) {
                                lab_ynode_free(n);
                                return -ENOMEM;
                        }
                        if (opens)
                                stack[depth++] = n;
                        break;
                }
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        if (depth > 0)
                                depth--;
                        break;
                default:
                        break;
                }
        }
}
