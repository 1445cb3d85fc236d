/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The checks that guard every change of traffic and versions, as one pure
 * function over a whole generation (see cn_controller_validate in
 * controller.h). Checking the whole result rather than the change alone is
 * what keeps a sequence of individually harmless changes from reaching a
 * state that the next start would refuse: e.g. shadow mode, then an empty
 * canary set.
 */
#include "controller/controller.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

#include <stdio.h>
#include <string.h>

/* A label is sent as a header value and quoted as a metric label: visible
 * ASCII without quotes or backslashes keeps both simple (as the config's
 * stable.version and canary.version). */
static bool is_label_char(char ch)
{
    return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

/* "host:port" or "[v6]:port", port 1..65535 (cn_addr_split); then, as
 * the config checks a host: a v6 literal must parse, a host of digits and
 * dots must be an IPv4 address, a name is letters, digits, '-', '.', '_'. */
static int check_set(const cn_version_set_t *s, const char *role, char *err,
                     size_t errlen)
{
    char q[CN_TEXT_QUOTE_BUF(80)];
    const char *label = s->version ? s->version : "";
    size_t n = strlen(label);
    bool label_ok = n >= 1 && n <= CN_VERSION_LABEL_MAX;
    for (size_t i = 0; label_ok && i < n; i++)
        label_ok = is_label_char(label[i]);
    if (!label_ok) {
        snprintf(err, errlen,
                 "%s.version: must be a label of 1 to %u visible ASCII characters, no "
                 "quotes or backslashes, got '%s'",
                 role, CN_VERSION_LABEL_MAX, cn_text_quote(label, n, 80, q));
        return CN_EINVAL;
    }
    if (s->count > CN_VERSION_MAX_ADDRESSES) {
        snprintf(err, errlen, "%s.addresses: at most %u addresses, got %zu", role,
                 CN_VERSION_MAX_ADDRESSES, s->count);
        return CN_EINVAL;
    }
    for (size_t i = 0; i < s->count; i++) {
        const char *a = s->addresses[i];
        if (!cn_addr_upstream_ok(a, 0)) {
            snprintf(err, errlen,
                     "%s.addresses[%zu]: must be an address host:port or [ipv6]:port "
                     "with a port in [1, 65535], got '%s'",
                     role, i, cn_text_quote(a, strlen(a), 80, q));
            return CN_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->addresses[j], a) == 0) {
                snprintf(err, errlen, "%s.addresses[%zu]: duplicate address '%s'", role,
                         i, cn_text_quote(a, strlen(a), 80, q));
                return CN_EINVAL;
            }
        }
    }
    return 0;
}

int cn_controller_validate(const cn_generation_t *g,
                           const cn_controller_limits_t *limits, char *err,
                           size_t errlen)
{
    char q[CN_TEXT_QUOTE_BUF(80)];
    const cn_version_set_t *st = &g->sets[CN_ROLE_STABLE],
                           *ca = &g->sets[CN_ROLE_CANARY];
    int rc = check_set(st, "stable", err, errlen);
    if (!rc)
        rc = check_set(ca, "canary", err, errlen);
    if (rc)
        return rc;
    /* One server is one version: an address in both sets would be measured
     * as two (the router refuses it too, as the config does). Except in a
     * parity check, whose canary arm is stable's own version under the
     * parity label (types.h): the same servers measured as two arms. */
    bool parity = cn_version_is_parity(st->version, ca->version);
    for (size_t i = 0; i < ca->count && !parity; i++)
        for (size_t j = 0; j < st->count; j++)
            if (strcmp(ca->addresses[i], st->addresses[j]) == 0) {
                snprintf(
                    err, errlen,
                    "canary.addresses[%zu]: duplicate of stable.addresses[%zu] "
                    "'%s'",
                    i, j,
                    cn_text_quote(ca->addresses[i], strlen(ca->addresses[i]), 80, q));
                return CN_EINVAL;
            }
    if (st->count == 0) {
        snprintf(err, errlen,
                 "stable.addresses: at least one stable address is required");
        return CN_EINVAL;
    }
    if (strcmp(st->version, ca->version) == 0) {
        snprintf(err, errlen,
                 "canary.version: must differ from stable.version (both are '%s')",
                 cn_text_quote(st->version, strlen(st->version), 80, q));
        return CN_EINVAL;
    }
    if (cn_traffic_validate(&g->traffic)) {
        snprintf(err, errlen, "traffic: out of range");
        return CN_EINVAL;
    }
    if (g->traffic.canary_weight_bp > 0 && ca->count == 0) {
        snprintf(err, errlen,
                 "canary_weight: must stay 0: there are no canary addresses (set "
                 "canary.addresses first)");
        return CN_EINVAL;
    }
    if (g->traffic.mode == CN_TRAFFIC_MODE_SHADOW && ca->count == 0) {
        snprintf(err, errlen,
                 "mode: 'shadow' needs a canary: there are no canary addresses (set "
                 "canary.addresses first)");
        return CN_EINVAL;
    }
    if (g->traffic.mode == CN_TRAFFIC_MODE_STICKY && !(limits && limits->sticky_key)) {
        snprintf(err, errlen,
                 "mode: 'sticky' needs a sticky key: set traffic.sticky_header or "
                 "traffic.sticky_cookie (--sticky-header, --sticky-cookie) at start");
        return CN_EINVAL;
    }
    return 0;
}
