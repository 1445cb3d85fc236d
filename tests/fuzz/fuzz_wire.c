/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the controller-to-replica codecs (engines/wire.c)
 * and the merge of the parsed snapshots (engines/remote_merge.c). The
 * first byte picks the parser: 0 the binary snapshot, 1 the generation
 * body, 2 the lease body. Any bytes must give either an error with one
 * line, or a value that:
 *  - snapshot: renders back to exactly the bytes parsed (the layout has
 *    one spelling per value), and merges with itself (counts doubled);
 *  - generation: renders and parses back to the same generation;
 *  - lease: a controller name of 1..63 visible characters.
 */
#include "engines/remote.h"
#include "engines/wire.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(int rc, const char *err)
{
    if (rc == 0 || !err[0] || strchr(err, '\n'))
        abort();
}

static void snapshot(const uint8_t *data, size_t size)
{
    cn_router_snapshot_t *s;
    char err[256] = "";
    int rc = cn_wire_snapshot_parse(data, size, &s, err, sizeof err);
    if (rc) {
        one_line(rc, err);
        if (s)
            abort();
        return;
    }
    cn_buf_t b;
    cn_buf_init(&b, (size_t)1 << 30);
    if (cn_wire_snapshot_render(&b, s) || b.len != size || memcmp(b.data, data, size))
        abort();
    cn_buf_dispose(&b);
    cn_router_snapshot_t *parts[2] = {s, s}, *m = NULL;
    uint64_t rng = 1;
    rc = cn_remote_merge(parts, 2, &rng, &m, err, sizeof err);
    if (rc) {
        one_line(rc, err);
    } else {
        uint64_t a = 0, d = 0;
        for (size_t i = 0; i < s->ncells; i++)
            a += s->cells[i].step_requests;
        for (size_t i = 0; i < m->ncells; i++)
            d += m->cells[i].step_requests;
        if (d != 2 * a && s->ncells == m->ncells)
            abort();
        cn_wire_snapshot_free(m);
    }
    cn_wire_snapshot_free(s);
}

static void generation(const uint8_t *data, size_t size)
{
    cn_generation_t g, back;
    cn_generation_init(&g);
    cn_generation_init(&back);
    char name[CN_WIRE_CONTROLLER_MAX + 1], err[256] = "";
    uint64_t lease, lease2;
    int rc = cn_wire_generation_parse((const char *)data, size, &g, name, &lease, err,
                                      sizeof err);
    if (rc) {
        one_line(rc, err);
    } else {
        cn_buf_t b;
        cn_buf_init(&b, 1 << 24);
        if (cn_wire_generation_render(&b, name, &g, lease) ||
            cn_wire_generation_parse(b.data, b.len, &back, name, &lease2, err,
                                     sizeof err) ||
            back.number != g.number || lease2 != lease ||
            !cn_traffic_equal(&back.traffic, &g.traffic) ||
            !cn_version_set_equal(&back.sets[0], &g.sets[0]) ||
            !cn_version_set_equal(&back.sets[1], &g.sets[1]))
            abort();
        cn_buf_dispose(&b);
    }
    cn_generation_dispose(&g);
    cn_generation_dispose(&back);
}

static void lease(const uint8_t *data, size_t size)
{
    char name[CN_WIRE_CONTROLLER_MAX + 1], err[256] = "";
    uint64_t g, ms;
    int rc =
        cn_wire_lease_parse((const char *)data, size, name, &g, &ms, err, sizeof err);
    if (rc)
        one_line(rc, err);
    else if (!name[0] || strlen(name) > CN_WIRE_CONTROLLER_MAX ||
             ms > CN_WIRE_LEASE_MAX_MS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        snapshot(data + 1, size - 1);
        break;
    case 1:
        generation(data + 1, size - 1);
        break;
    default:
        lease(data + 1, size - 1);
        break;
    }
    return 0;
}
