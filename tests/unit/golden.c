/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Golden-vector loading for the unit tests; see golden.h. */
#include "golden.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

json_t *golden_load(const char *name)
{
    const char *dir = getenv("CN_GOLDEN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", dir ? dir : "tests/golden", name);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    cr_assert(root != NULL, "cannot load golden file %s: %s (line %d)", path, err.text,
              err.line);
    return root;
}

json_t *golden_cases(json_t *root)
{
    json_t *cases = json_object_get(root, "cases");
    cr_assert(json_is_array(cases), "golden file has no \"cases\" array");
    cr_assert(json_array_size(cases) > 0, "golden file has no cases");
    return cases;
}

double *golden_doubles(json_t *case_obj, const char *key, size_t *n)
{
    json_t *arr = json_object_get(case_obj, key);
    cr_assert(json_is_array(arr), "golden case lacks array \"%s\"", key);
    size_t len = json_array_size(arr);
    double *v = malloc((len ? len : 1) * sizeof *v);
    cr_assert(v != NULL);
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        v[i] = json_is_null(e) ? NAN : json_number_value(e);
    }
    *n = len;
    return v;
}

double golden_num(json_t *case_obj, const char *key)
{
    json_t *v = json_object_get(case_obj, key);
    cr_assert(v != NULL, "golden case lacks \"%s\"", key);
    if (json_is_null(v))
        return NAN;
    cr_assert(json_is_number(v), "golden \"%s\" is not a number", key);
    return json_number_value(v);
}

const char *golden_str(json_t *case_obj, const char *key)
{
    const char *s = json_string_value(json_object_get(case_obj, key));
    cr_assert(s != NULL, "golden case lacks string \"%s\"", key);
    return s;
}

int golden_close(double got, double want, double rel)
{
    if (isnan(got) || isnan(want))
        return isnan(got) && isnan(want);
    if (isinf(got) || isinf(want))
        return got == want;
    if (got == want)
        return 1;
    double scale = fmax(fabs(got), fabs(want));
    return fabs(got - want) <= rel * scale;
}
