/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The parity check's spec and strategy (parity.h). */
#include "controller/parity.h"
#include "util/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void cn_parity_spec_init(cn_parity_spec_t *s)
{
    memset(s, 0, sizeof *s);
    cn_version_set_init(&s->canary, "");
}

void cn_parity_spec_dispose(cn_parity_spec_t *s)
{
    if (!s)
        return;
    cn_version_set_dispose(&s->canary);
    memset(s, 0, sizeof *s);
}

char *cn_parity_spec_json(const cn_parity_spec_t *s)
{
    json_t *addrs = json_array();
    for (size_t i = 0; i < s->canary.count; i++)
        json_array_append_new(addrs, json_string(s->canary.addresses[i]));
    json_t *o = json_pack("{s:{s:i, s:I, s:s, s:o}}", "parity", "weight_bp",
                          (int)s->weight_bp, "duration_ms", (json_int_t)s->duration_ms,
                          "label", s->canary.version, "addresses", addrs);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    /* jansson fails only when out of memory: as cn_xmalloc does */
    return text ? text : cn_xstrdup("{}");
}

int cn_parity_spec_parse(const char *text, cn_parity_spec_t *out, bool *is_parity,
                         char *err, size_t errlen)
{
    *is_parity = false;
    cn_parity_spec_init(out);
    if (!text)
        return 0;
    json_t *root = json_loads(text, 0, NULL);
    json_t *p = json_is_object(root) ? json_object_get(root, "parity") : NULL;
    if (!p) {
        json_decref(root);
        return 0;
    }
    *is_parity = true;
    int rc = 0;
    json_t *w = json_object_get(p, "weight_bp"), *d = json_object_get(p, "duration_ms"),
           *l = json_object_get(p, "label"), *a = json_object_get(p, "addresses");
    if (!json_is_integer(w) || json_integer_value(w) <= 0 ||
        json_integer_value(w) >= 10000)
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "parity.weight_bp: must be an integer in (0, 10000)");
    else if (!json_is_integer(d) || json_integer_value(d) <= 0)
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "parity.duration_ms: must be a positive integer");
    else if (!json_is_string(l) || json_string_length(l) == 0 ||
             json_string_length(l) > CN_VERSION_LABEL_MAX)
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "parity.label: must be a label of 1 to %u bytes",
                     CN_VERSION_LABEL_MAX);
    else if (!json_is_array(a) || json_array_size(a) == 0 ||
             json_array_size(a) > CN_VERSION_MAX_ADDRESSES)
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "parity.addresses: must be a list of 1 to %u addresses",
                     CN_VERSION_MAX_ADDRESSES);
    for (size_t i = 0; !rc && i < json_array_size(a); i++)
        if (!json_is_string(json_array_get(a, i)))
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "parity.addresses[%zu]: must be a string", i);
    if (!rc) {
        out->weight_bp = (uint16_t)json_integer_value(w);
        out->duration_ms = (uint64_t)json_integer_value(d);
        cn_version_set_dispose(&out->canary);
        cn_version_set_init(&out->canary, json_string_value(l));
        for (size_t i = 0; i < json_array_size(a); i++)
            cn_version_set_add(&out->canary, json_string_value(json_array_get(a, i)));
    }
    json_decref(root);
    return rc;
}

void cn_parity_strategy(const cn_strategy_t *base, const cn_parity_spec_t *spec,
                        uint64_t min_samples, cn_strategy_t *out)
{
    memset(out, 0, sizeof *out);
    out->warmup_ms = base->warmup_ms;
    out->progress_deadline_ms = base->progress_deadline_ms;
    out->triggers = base->triggers; /* borrowed strings */
    out->parity = base->parity;
    out->gates.interval_ms = base->gates.interval_ms; /* none is called */
    out->max_bake_ms = spec->duration_ms;
    out->on_marginal = CN_STRATEGY_MARGINAL_HOLD;
    out->retries = 0;
    out->dry_run = false;
    out->n_steps = 3;
    out->steps = cn_xcalloc(3, sizeof *out->steps);
    out->steps[0].kind = CN_STRATEGY_SET_WEIGHT;
    out->steps[0].weight_bp = spec->weight_bp;
    out->steps[1].kind = CN_STRATEGY_PAUSE;
    out->steps[1].pause.has_duration = 1;
    out->steps[1].pause.duration_ms = spec->duration_ms;
    out->steps[2].kind = CN_STRATEGY_ANALYSIS;
    out->steps[2].analysis.mode = CN_STRATEGY_PLANNED;
    out->steps[2].analysis.min_samples = min_samples ? min_samples : 1;
}

void cn_parity_strategy_dispose(cn_strategy_t *s)
{
    if (!s)
        return;
    free(s->steps);
    memset(s, 0, sizeof *s);
}

const char *cn_parity_result(cn_store_rollout_state_t state)
{
    switch (state) {
    case CN_STORE_ROLLOUT_PROMOTED:
        return "passed";
    case CN_STORE_ROLLOUT_ROLLED_BACK:
        return "failed";
    case CN_STORE_ROLLOUT_ABORTED:
        return "inconclusive";
    default:
        return "running";
    }
}
