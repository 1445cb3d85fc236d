/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * canary control's config (control/config.c): what is required (the
 * state file, models, a strategy), each mistake named with its file, line
 * and key path, and the engine kinds checked by side.
 */
#include "control/config.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <string.h>

#define STRATEGY                                                                       \
    "strategy:\n  steps:\n    - set_weight: 10\n    - pause: {duration: 1s}\n"

static int parse(const char *text, char *err, size_t errlen)
{
    cn_control_config_t c;
    cn_control_config_init(&c);
    int rc =
        cn_control_config_parse_yaml(&c, text, strlen(text), "c.yaml", err, errlen);
    cn_control_config_dispose(&c);
    return rc;
}

static void expect(const char *text, const char *want)
{
    char err[768] = "";
    cr_assert_neq(parse(text, err, sizeof err), 0, "accepted: %s", text);
    cr_assert(strstr(err, want), "got '%s', want '%s'", err, want);
}

Test(control_config, the_state_file_models_and_a_strategy_are_required)
{
    expect("models: []\n" STRATEGY, "key 'control.state': required");
    expect("control: {state: s.db}\n" STRATEGY, "key 'models': required");
    expect("control: {state: s.db}\nmodels: []\n" STRATEGY,
           "key 'models': must be a list of at least one model");
}

Test(control_config, a_model_is_named_and_has_a_known_traffic_engine)
{
    expect("control: {state: s.db}\nmodels:\n  - traffic: {x: {}}\n" STRATEGY,
           "c.yaml:3: key 'models[0]': name: required");
    expect("control: {state: s.db}\nmodels:\n  - name: fraud\n" STRATEGY,
           "key 'models[0]': traffic: required");
    expect("control: {state: s.db}\nmodels:\n  - name: fraud\n    traffic: {bogus: "
           "{}}\n" STRATEGY,
           "c.yaml:4: key 'models[0].traffic': unknown engine 'bogus': must be one of");
    /* `none` measures; it splits nothing */
    expect("control: {state: s.db}\nmodels:\n  - name: fraud\n    traffic: {none: "
           "{}}\n" STRATEGY,
           "unknown engine 'none'");
    expect(
        "control: {state: s.db}\nmodels:\n  - name: fraud\n    traffic: 5\n" STRATEGY,
        "must be a mapping of one engine");
    expect("control: {state: s.db}\nmodels:\n  - name: 'bad name!'\n" STRATEGY,
           "key 'models[0].name'");
    expect(
        "control: {state: s.db}\nmodels:\n  - name: fraud\n    colour: red\n" STRATEGY,
        "unknown key 'colour'");
}

Test(control_config, unknown_sections_and_control_keys_are_named)
{
    expect("serve: {}\ncontrol: {state: s.db}\n" STRATEGY,
           "c.yaml:1: unknown key 'serve'");
    expect("control: {state: s.db, listen: ':80'}\nmodels: [{name: a}]\n" STRATEGY,
           "control.listen");
}
