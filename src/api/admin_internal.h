/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin server's state, shared by admin.c (sockets, libuv) and
 * handle.c (routing, pure). Not for other modules: use api/admin.h.
 */
#ifndef CN_API_ADMIN_INTERNAL_H
#define CN_API_ADMIN_INTERNAL_H

#include "api/admin.h"

#include <stdio.h>
#include <uv.h>

typedef struct cn_admin__conn_s cn_admin__conn_t;

struct cn_admin_s {
    /* settings */
    char *token; /* owned */
    size_t token_len;
    cn_admin_ops_t ops;
    FILE *log;
    uint32_t idle_timeout_ms, request_timeout_ms;
    char address[80];

    /* loop (admin.c) */
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop_async;
    bool ran;                /* cn_admin_run was called */
    bool stopping;           /* handles are being closed */
    cn_admin__conn_t *conns; /* open connections, doubly linked */
    unsigned nconns;
    char read_buf[64 * 1024]; /* one loop thread: one buffer for every read */
};

/* Log one rejected request ("admin: 401 PUT /v1/traffic from 1.2.3.4"). */
void cn_admin__log_reject(cn_admin_t *a, unsigned status, const char *method,
                          const char *url, size_t url_len, const char *peer);

#endif
