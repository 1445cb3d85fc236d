/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Wall-clock time in Unix milliseconds: what the state file, the audit
 * trail, the rollout machine's events and the API's times are written in.
 */
#ifndef CN_UTIL_CLOCK_H
#define CN_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t cn_clock_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
