/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HAProxy engine's pure parts (engines/haproxy.h, haproxy_internal.h):
 * the mapping of canary basis points onto HAProxy's 0..256 server weights
 * (against a brute-force search of every weight pair), server names, the
 * parsers run on HAProxy 2.6.12's own answers, the check of each
 * command's answer, the plan's commands and their order, and the
 * `haproxy:` config's errors. The engine against a real HAProxy is
 * tests/integration/test_haproxy_engine.sh.
 */
#include "engines/haproxy.h"
#include "engines/haproxy_internal.h"
#include "util/config.h"
#include "util/error.h"
#include "util/yaml.h"

#include <criterion/criterion.h>
#include <libfyaml.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ weights */

/* The order of haproxy.h, written out again as the oracle. */
typedef struct pair_key_s {
    uint32_t bp_err;
    int unbalanced;
    uint64_t num, den;
} pair_key_t;

static pair_key_t key_of(uint32_t c, uint32_t s, uint16_t p, size_t ns, size_t nc)
{
    pair_key_t k;
    uint16_t got = cn_haproxy_share_bp(c, s);
    k.bp_err = got > p ? got - p : p - got;
    k.unbalanced = (c % nc) || (s % ns);
    uint64_t t = (uint64_t)c + s;
    int64_t d = (int64_t)(10000 * (uint64_t)c) - (int64_t)(p * t);
    k.num = (uint64_t)(d < 0 ? -d : d);
    k.den = t;
    return k;
}

static int cmp_key(const pair_key_t *a, const pair_key_t *b)
{
    if (a->bp_err != b->bp_err)
        return a->bp_err < b->bp_err ? -1 : 1;
    if (a->unbalanced != b->unbalanced)
        return a->unbalanced ? 1 : -1;
    uint64_t l = a->num * b->den, r = b->num * a->den;
    if (l != r)
        return l < r ? -1 : 1;
    if (a->den != b->den)
        return a->den > b->den ? -1 : 1;
    return 0;
}

/* Every pair (C, S) the rules allow, the best by the order. */
static pair_key_t brute(uint16_t p, size_t ns, size_t nc)
{
    pair_key_t best = {UINT32_MAX, 1, 1, 0};
    for (uint32_t c = p > 0 ? 1 : 0; c <= (p == 0 ? 0 : 256 * nc); c++)
        for (uint32_t s = p < 10000 ? 1 : 0; s <= (p == 10000 ? 0 : 256 * ns); s++) {
            pair_key_t k = key_of(c, s, p, ns, nc);
            if (best.den == 0 || cmp_key(&k, &best) < 0)
                best = k;
        }
    return best;
}

static void check_optimal(uint16_t p, size_t ns, size_t nc)
{
    cn_haproxy_split_t sp;
    cr_assert_eq(cn_haproxy_split(p, ns, nc, &sp), 0);
    pair_key_t got = key_of(sp.canary_total, sp.stable_total, p, ns, nc);
    pair_key_t want = brute(p, ns, nc);
    cr_assert_eq(cmp_key(&got, &want), 0,
                 "p=%u ns=%zu nc=%zu: C=%u S=%u (bp_err %u) but the best has bp_err "
                 "%u, total %llu",
                 p, ns, nc, sp.canary_total, sp.stable_total, got.bp_err, want.bp_err,
                 (unsigned long long)want.den);
}

Test(haproxy_weights, one_server_each_is_the_best_pair_for_every_share)
{
    /* 257 x 257 pairs per share: every 7th basis point and the ends */
    for (unsigned p = 0; p <= 10000; p += 7)
        check_optimal((uint16_t)p, 1, 1);
    check_optimal(10000, 1, 1);
    check_optimal(9999, 1, 1);
}

Test(haproxy_weights, several_servers_are_the_best_pair_too)
{
    static const uint16_t ps[] = {0,    1,    5,    39,   100,  250,
                                  1000, 1234, 3333, 5000, 9999, 10000};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        check_optimal(ps[i], 3, 2);
        check_optimal(ps[i], 2, 3);
    }
}

Test(haproxy_weights, exact_shares_are_exact)
{
    cn_haproxy_split_t sp;
    cr_assert_eq(cn_haproxy_split(100, 1, 1, &sp), 0); /* 1% = 2 / 200 */
    cr_assert_eq(sp.canary_total, 2);
    cr_assert_eq(sp.stable_total, 198);
    cr_assert_eq(sp.effective_weight_bp, 100);
    cr_assert_eq(cn_haproxy_split(5000, 2, 1, &sp), 0); /* 256 : 128 + 128 */
    cr_assert_eq(sp.canary_total, 256);
    cr_assert_eq(sp.stable_total, 256);
    cr_assert_eq(cn_haproxy_split(1000, 2, 1, &sp), 0);
    cr_assert_eq(sp.effective_weight_bp, 1000);
    cr_assert_eq(sp.canary_total * 9, sp.stable_total);
    cr_assert_eq(sp.stable_total % 2, 0, "stable weights equal");
}

Test(haproxy_weights, zero_and_all)
{
    cn_haproxy_split_t sp;
    cr_assert_eq(cn_haproxy_split(0, 3, 2, &sp), 0);
    cr_assert_eq(sp.canary_total, 0);
    cr_assert_eq(sp.stable_total, 3 * 256);
    cr_assert_eq(sp.effective_weight_bp, 0);
    cr_assert_eq(cn_haproxy_split(10000, 3, 2, &sp), 0);
    cr_assert_eq(sp.canary_total, 2 * 256);
    cr_assert_eq(sp.stable_total, 0);
    cr_assert_eq(sp.effective_weight_bp, 10000);
    /* an empty role */
    cr_assert_eq(cn_haproxy_split(5000, 2, 0, &sp), 0);
    cr_assert_eq(sp.canary_total, 0);
    cr_assert_eq(sp.effective_weight_bp, 0);
    cr_assert_eq(cn_haproxy_split(5000, 0, 2, &sp), 0);
    cr_assert_eq(sp.effective_weight_bp, 10000);
    cr_assert_eq(cn_haproxy_split(5000, 0, 0, &sp), 0);
    cr_assert_eq(sp.canary_total + sp.stable_total, 0);
    cr_assert_eq(sp.effective_weight_bp, 0);
}

Test(haproxy_weights, the_smallest_share_is_one_in_one_plus_256_per_stable_server)
{
    /* 0.01% cannot be given: a nonzero share stays nonzero, the smallest */
    for (size_t ns = 1; ns <= 4; ns++) {
        cn_haproxy_split_t sp;
        cr_assert_eq(cn_haproxy_split(1, ns, 1, &sp), 0);
        cr_assert_eq(sp.canary_total, 1, "ns=%zu", ns);
        cr_assert_eq(sp.stable_total, 256 * ns, "ns=%zu", ns);
    }
    cn_haproxy_split_t sp;
    cr_assert_eq(cn_haproxy_split(1, 1, 1, &sp), 0);
    cr_assert_eq(sp.effective_weight_bp, 39); /* 1 / 257 = 0.389% */
    /* and the stable's smallest: 99.99% is 256 : 1 */
    cr_assert_eq(cn_haproxy_split(9999, 1, 1, &sp), 0);
    cr_assert_eq(sp.stable_total, 1);
    cr_assert_eq(sp.canary_total, 256);
    cr_assert_eq(sp.effective_weight_bp, 9961);
}

Test(haproxy_weights, many_servers_stay_in_bounds_and_close)
{
    for (unsigned p = 0; p <= 10000; p += 101) {
        cn_haproxy_split_t sp;
        cr_assert_eq(cn_haproxy_split((uint16_t)p, 256, 256, &sp), 0);
        uint32_t c = 0, s = 0;
        for (size_t i = 0; i < 256; i++) {
            unsigned wc = cn_haproxy_weight(sp.canary_total, 256, i);
            unsigned ws = cn_haproxy_weight(sp.stable_total, 256, i);
            cr_assert_leq(wc, CN_HAPROXY_WEIGHT_MAX);
            cr_assert_leq(ws, CN_HAPROXY_WEIGHT_MAX);
            c += wc;
            s += ws;
        }
        cr_assert_eq(c, sp.canary_total);
        cr_assert_eq(s, sp.stable_total);
        /* 131,072 weight units: within one basis point everywhere */
        cr_assert_leq(abs((int)sp.effective_weight_bp - (int)p), 0, "p=%u got %u", p,
                      sp.effective_weight_bp);
    }
}

Test(haproxy_weights, a_role_spreads_its_total_within_one)
{
    cr_assert_eq(cn_haproxy_weight(10, 3, 0), 4);
    cr_assert_eq(cn_haproxy_weight(10, 3, 1), 3);
    cr_assert_eq(cn_haproxy_weight(10, 3, 2), 3);
    cr_assert_eq(cn_haproxy_weight(768, 3, 2), 256);
    cr_assert_eq(cn_haproxy_weight(5, 0, 0), 0);
    cr_assert_eq(cn_haproxy_share_bp(1, 2), 3333);
    cr_assert_eq(cn_haproxy_share_bp(2, 1), 6667);
    cr_assert_eq(cn_haproxy_share_bp(0, 0), 0);
}

Test(haproxy_weights, out_of_range_is_refused)
{
    cn_haproxy_split_t sp;
    cr_assert_eq(cn_haproxy_split(10001, 1, 1, &sp), CN_EINVAL);
    cr_assert_eq(cn_haproxy_split(100, 257, 1, &sp), CN_EINVAL);
    cr_assert_eq(cn_haproxy_split(100, 1, 257, &sp), CN_EINVAL);
}

/* -------------------------------------------------------------- names */

Test(haproxy_names, labels_become_valid_server_names)
{
    char out[CN_HAPROXY_NAME_MAX + 1];
    cr_assert_eq(cn_haproxy__server_name("cn-", CN_ROLE_STABLE, "v1", 0, out), 0);
    cr_assert_str_eq(out, "cn-stable-v1-0");
    cr_assert_eq(cn_haproxy__server_name("cn-", CN_ROLE_CANARY, "v2.1-rc_3", 12, out),
                 0);
    cr_assert_str_eq(out, "cn-canary-v2.1-rc_3-12");
    /* a '+' (the parity label) is not allowed: replaced, and hashed so that
     * "v1+parity" and "v1_parity" stay apart */
    char a[CN_HAPROXY_NAME_MAX + 1], b[CN_HAPROXY_NAME_MAX + 1];
    cn_haproxy__name_label("v1+parity", a);
    cn_haproxy__name_label("v1_parity", b);
    cr_assert_eq(strncmp(a, "v1_parity-", 10), 0, "%s", a);
    cr_assert_eq(strlen(a), 18, "%s", a);
    cr_assert_str_eq(b, "v1_parity");
    /* long labels are cut and hashed */
    char longl[64];
    memset(longl, 'x', 63);
    longl[63] = '\0';
    cn_haproxy__name_label(longl, a);
    cr_assert_eq(strlen(a), 40 + 1 + 8, "%s", a);
}

Test(haproxy_names, names_read_back)
{
    cn_role_t role;
    char label[CN_HAPROXY_NAME_MAX + 1];
    unsigned idx;
    cr_assert(cn_haproxy__parse_name("cn-", "cn-canary-v2-1-7", &role, label, &idx));
    cr_assert_eq(role, CN_ROLE_CANARY);
    cr_assert_str_eq(label, "v2-1");
    cr_assert_eq(idx, 7);
    cr_assert(!cn_haproxy__parse_name("cn-", "web1", &role, label, &idx));
    cr_assert(!cn_haproxy__parse_name("cn-", "cn-other-v1-0", &role, label, &idx));
    cr_assert(!cn_haproxy__parse_name("cn-", "cn-stable-v1-x", &role, label, &idx));
    cr_assert(!cn_haproxy__parse_name("cn-", "cn-stable--0", &role, label, &idx));
}

/* ------------------------------------------------------------ answers */

/* HAProxy 2.6.12's answers (`show servers state be`, `show stat be 4 -1`) */
static const char state_answer[] =
    "1\n"
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
    "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
    "srv_check_result srv_check_health srv_check_state srv_agent_state "
    "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
    "srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
    "3 be 1 cn-stable-v1-0 127.0.0.1 2 0 256 256 1 1 0 0 0 0 0 0 - 18081 - 0 0 - - 0\n"
    "3 be 2 other 127.0.0.1 0 1 1 1 1 1 0 0 0 0 0 0 - 18082 - 0 0 - - 0\n"
    "3 be 3 cn-canary-v2-0 ::1 2 8 3 1 1 1 0 0 0 0 0 0 - 18083 - 0 0 - - 0\n"
    "\n";

static const char stat_answer[] =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,"
    "eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,"
    "qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"
    "check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,"
    "hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,"
    "comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,"
    "ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,"
    "algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,"
    "cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,"
    "ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,"
    "uweight,agg_server_status,agg_server_check_status,agg_check_status,-,\n"
    "be,cn-stable-v1-0,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,256,1,0,,,0,,,1,3,1,,0,,2,"
    "0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18081,,http,"
    ",,,,,,,,0,0,0,,,0,0,0,0,0,0,0,0,0,0,0,256,,,,-,\n"
    "be,other,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,0,1,,,0,,,1,3,2,,0,,2,0,,0,,,,0,0,0,"
    "0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18082,,http,,,,,,,,0,0,0,,,"
    "0,0,0,0,0,0,0,0,0,0,0,1,,,,-,\n"
    "be,cn-canary-v2-0,0,0,7,9,,0,0,0,,0,,0,0,0,0,DRAIN,3,1,0,,,0,,,1,3,3,,0,,2,0,,0,,"
    ",,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,[::1]:18083,,http,,,,,,,,0,0,"
    "0,,,0,0,0,0,0,0,0,0,0,0,0,3,,,,-,\n"
    "\n";

Test(haproxy_answers, show_servers_state_and_show_stat_parse)
{
    cn_haproxy_live_t live = {0};
    char err[512];
    cr_assert_eq(
        cn_haproxy__parse_state(state_answer, "be", "cn-", &live, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(cn_haproxy__parse_stat(stat_answer, "be", &live, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(live.count, 3);
    const cn_haproxy_server_t *s = live.servers;
    cr_assert_str_eq(s[0].name, "cn-stable-v1-0");
    cr_assert_str_eq(s[0].addr, "127.0.0.1:18081");
    cr_assert(s[0].ours);
    cr_assert_eq(s[0].role, CN_ROLE_STABLE);
    cr_assert_eq(s[0].weight, 256);
    cr_assert_eq(s[0].admin, 0);
    cr_assert(!s[0].backup);
    cr_assert(!s[1].ours);
    cr_assert(s[1].backup);
    cr_assert_eq(s[1].admin, CN_HAPROXY_ADMF_FMAINT);
    cr_assert_str_eq(s[2].addr, "[::1]:18083");
    cr_assert_eq(s[2].admin, CN_HAPROXY_ADMF_FDRAIN);
    cr_assert_eq(s[2].scur, 7);
    cn_haproxy__live_dispose(&live);
    /* another backend's lines are not this one's */
    cr_assert_eq(
        cn_haproxy__parse_state(state_answer, "fe", "cn-", &live, err, sizeof err), 0);
    cr_assert_eq(live.count, 0);
}

Test(haproxy_answers, bad_answers_are_one_line_errors)
{
    cn_haproxy_live_t live = {0};
    char err[512];
    cr_assert_eq(cn_haproxy__parse_state("Can't find backend.\n\n", "be", "cn-", &live,
                                         err, sizeof err),
                 CN_EPARSE);
    cr_assert_str_eq(err,
                     "haproxy: 'show servers state be': expected format version 1, "
                     "got Can't find backend.");
    cr_assert_eq(cn_haproxy__parse_state("1\n3 be 1 s1 1.2.3.4 2\n", "be", "cn-", &live,
                                         err, sizeof err),
                 CN_EPARSE);
    cr_assert(strstr(err, "line 2: expected 19 or more fields"), "%s", err);
    cn_haproxy__live_dispose(&live);
    cr_assert_eq(
        cn_haproxy__parse_stat("# pxname,svname\n", "be", &live, err, sizeof err),
        CN_EPARSE);
    cr_assert(strstr(err, "lacks pxname, svname, scur or bck"), "%s", err);
}

Test(haproxy_answers, each_command_is_checked)
{
    char err[512];
    cr_assert_eq(cn_haproxy__check_answer("set weight be/s 3", CN_HAPROXY_EXPECT_EMPTY,
                                          "\n", err, sizeof err),
                 0);
    cr_assert_eq(cn_haproxy__check_answer("set weight be/s 3", CN_HAPROXY_EXPECT_EMPTY,
                                          "No such server.\n\n", err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "haproxy: 'set weight be/s 3': No such server.");
    cr_assert_eq(cn_haproxy__check_answer(
                     "add server be/s 1.2.3.4:80 weight 1", CN_HAPROXY_EXPECT_ADDED,
                     "New server registered.\n\n", err, sizeof err),
                 0);
    cr_assert_eq(cn_haproxy__check_answer(
                     "add server be/s 1.2.3.4:80 weight 1", CN_HAPROXY_EXPECT_ADDED,
                     "Already exists a server with the same name in backend.\n\n", err,
                     sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "haproxy: 'add server be/s 1.2.3.4:80 weight 1': Already "
                          "exists a server with the same name in backend.");
    cr_assert_eq(cn_haproxy__check_answer("del server be/s", CN_HAPROXY_EXPECT_DELETED,
                                          "Only servers in maintenance mode can be "
                                          "deleted.\n",
                                          err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err,
                     "haproxy: 'del server be/s': Only servers in maintenance mode "
                     "can be deleted.");
    cr_assert_eq(cn_haproxy__check_answer("del server be/s", CN_HAPROXY_EXPECT_DELETED,
                                          "Server deleted.\n", err, sizeof err),
                 0);
    cr_assert_eq(cn_haproxy__check_answer("enable server be/s", CN_HAPROXY_EXPECT_EMPTY,
                                          "Permission denied\n\n", err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "haproxy: 'enable server be/s': Permission denied");
    cr_assert_eq(cn_haproxy__check_answer("show stat be 4 -1", CN_HAPROXY_EXPECT_STAT,
                                          "", err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "haproxy: 'show stat be 4 -1': (no answer)");
    /* a multi-line answer is folded into one line */
    cr_assert_eq(cn_haproxy__check_answer("x", CN_HAPROXY_EXPECT_EMPTY,
                                          "Unknown command.\n  help : this\n", err,
                                          sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "haproxy: 'x': Unknown command. help : this");
}

/* --------------------------------------------------------------- plan */

static cn_haproxy_config_t cfg_be(void)
{
    cn_haproxy_config_t c = {0};
    c.socket = "/x.sock";
    c.backend = "be";
    c.server_prefix = "cn-";
    return c;
}

static cn_haproxy_want_t want_of(cn_role_t role, const char *label, const char *addr,
                                 unsigned weight)
{
    cn_haproxy_want_t w = {.role = role, .weight = weight};
    cn_haproxy__name_label(label, w.label);
    snprintf(w.addr, sizeof w.addr, "%s", addr);
    return w;
}

static cn_haproxy_server_t server_of(const char *name, const char *addr,
                                     unsigned weight, unsigned admin)
{
    cn_haproxy_server_t s = {.weight = weight, .admin = admin, .op = 2};
    snprintf(s.name, sizeof s.name, "%s", name);
    snprintf(s.addr, sizeof s.addr, "%s", addr);
    s.ours = cn_haproxy__parse_name("cn-", name, &s.role, s.label, &s.index);
    return s;
}

static void expect_plan(const cn_haproxy_plan_t *p, const char *const *cmds, size_t n)
{
    for (size_t i = 0; i < p->count && i < n; i++)
        cr_assert_str_eq(p->cmds[i].text, cmds[i], "command %zu", i);
    cr_assert_eq(p->count, n, "%zu commands, expected %zu", p->count, n);
}

Test(haproxy_plan, an_empty_backend_gets_every_server_added_then_enabled)
{
    cn_haproxy_config_t c = cfg_be();
    cn_haproxy_live_t live = {0};
    cn_haproxy_want_t w[3] = {want_of(CN_ROLE_STABLE, "v1", "10.0.0.1:80", 128),
                              want_of(CN_ROLE_STABLE, "v1", "10.0.0.2:80", 128),
                              want_of(CN_ROLE_CANARY, "v2", "10.0.0.3:80", 28)};
    cn_haproxy_plan_t p;
    char err[512];
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 3, &p, err, sizeof err), 0, "%s", err);
    static const char *const want[] = {
        "add server be/cn-stable-v1-0 10.0.0.1:80 weight 128",
        "add server be/cn-stable-v1-1 10.0.0.2:80 weight 128",
        "add server be/cn-canary-v2-0 10.0.0.3:80 weight 28",
        "enable server be/cn-stable-v1-0",
        "enable server be/cn-stable-v1-1",
        "enable server be/cn-canary-v2-0",
    };
    expect_plan(&p, want, 6);
    cr_assert_eq(p.cmds[0].expect, CN_HAPROXY_EXPECT_ADDED);
    cr_assert_eq(p.cmds[3].expect, CN_HAPROXY_EXPECT_EMPTY);
    cr_assert_str_eq(p.why, "server cn-stable-v1-0 (10.0.0.1:80) is missing");
    cn_haproxy__plan_dispose(&p);
    /* with server_options */
    c.server_options = "check inter 1s";
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 1, &p, err, sizeof err), 0);
    static const char *const checked[] = {
        "add server be/cn-stable-v1-0 10.0.0.1:80 weight 128 check inter 1s",
        "enable server be/cn-stable-v1-0",
        "enable health be/cn-stable-v1-0",
    };
    expect_plan(&p, checked, 3);
    cn_haproxy__plan_dispose(&p);
    /* "check-ssl" alone is not "check" */
    c.server_options = "check-ssl";
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 1, &p, err, sizeof err), 0);
    cr_assert_eq(p.count, 2);
    cn_haproxy__plan_dispose(&p);
}

Test(haproxy_plan, a_backend_that_is_the_generation_needs_nothing)
{
    cn_haproxy_config_t c = cfg_be();
    cn_haproxy_server_t s[2] = {server_of("cn-stable-v1-0", "10.0.0.1:80", 200, 0),
                                server_of("cn-canary-v2-0", "10.0.0.3:80", 56, 0)};
    cn_haproxy_live_t live = {2, s};
    cn_haproxy_want_t w[2] = {want_of(CN_ROLE_STABLE, "v1", "10.0.0.1:80", 200),
                              want_of(CN_ROLE_CANARY, "v2", "10.0.0.3:80", 56)};
    cn_haproxy_plan_t p;
    char err[512];
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 2, &p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.count, 0);
    cr_assert_str_eq(p.why, "");
    cn_haproxy__plan_dispose(&p);
}

Test(haproxy_plan, the_canary_goes_down_first_and_up_last)
{
    cn_haproxy_config_t c = cfg_be();
    cn_haproxy_server_t s[3] = {server_of("cn-stable-v1-0", "10.0.0.1:80", 100, 0),
                                server_of("cn-canary-v2-0", "10.0.0.3:80", 100, 0),
                                server_of("cn-canary-v2-1", "10.0.0.4:80", 10, 0)};
    cn_haproxy_live_t live = {3, s};
    cn_haproxy_want_t w[3] = {want_of(CN_ROLE_STABLE, "v1", "10.0.0.1:80", 50),
                              want_of(CN_ROLE_CANARY, "v2", "10.0.0.3:80", 20),
                              want_of(CN_ROLE_CANARY, "v2", "10.0.0.4:80", 20)};
    cn_haproxy_plan_t p;
    char err[512];
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 3, &p, err, sizeof err), 0, "%s", err);
    static const char *const want[] = {
        "set weight be/cn-canary-v2-0 20",
        "set weight be/cn-stable-v1-0 50",
        "set weight be/cn-canary-v2-1 20",
    };
    expect_plan(&p, want, 3);
    cn_haproxy__plan_dispose(&p);
}

Test(haproxy_plan, leaving_servers_are_drained_once_and_names_take_free_indexes)
{
    cn_haproxy_config_t c = cfg_be();
    cn_haproxy_server_t s[3] = {
        server_of("cn-stable-v1-0", "10.0.0.1:80", 256, 0),
        server_of("cn-canary-v2-0", "10.0.0.3:80", 10, 0),
        server_of("cn-canary-v2-1", "10.0.0.9:80", 10, CN_HAPROXY_ADMF_FDRAIN)};
    cn_haproxy_live_t live = {3, s};
    /* v1 moves from .1 to .2; the canary leaves */
    cn_haproxy_want_t w[1] = {want_of(CN_ROLE_STABLE, "v1", "10.0.0.2:80", 256)};
    cn_haproxy_plan_t p;
    char err[512];
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 1, &p, err, sizeof err), 0, "%s", err);
    static const char *const want[] = {
        "add server be/cn-stable-v1-1 10.0.0.2:80 weight 256",
        "set server be/cn-canary-v2-0 state drain",
        "enable server be/cn-stable-v1-1",
        "set server be/cn-stable-v1-0 state drain",
    };
    expect_plan(&p, want, 4);
    cr_assert(p.leaving[0] && p.leaving[1] && p.leaving[2]);
    cn_haproxy__plan_dispose(&p);
}

Test(haproxy_plan, a_drained_server_that_is_wanted_again_is_made_ready)
{
    cn_haproxy_config_t c = cfg_be();
    cn_haproxy_server_t s[2] = {
        server_of("cn-stable-v1-0", "10.0.0.1:80", 256, 0),
        server_of("cn-canary-v2-0", "10.0.0.3:80", 10, CN_HAPROXY_ADMF_FMAINT)};
    cn_haproxy_live_t live = {2, s};
    cn_haproxy_want_t w[2] = {want_of(CN_ROLE_STABLE, "v1", "10.0.0.1:80", 256),
                              want_of(CN_ROLE_CANARY, "v2", "10.0.0.3:80", 10)};
    cn_haproxy_plan_t p;
    char err[512];
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 2, &p, err, sizeof err), 0, "%s", err);
    static const char *const want[] = {"set server be/cn-canary-v2-0 state ready"};
    expect_plan(&p, want, 1);
    cr_assert_str_eq(p.why, "server cn-canary-v2-0 is in maintenance");
    cr_assert(!p.leaving[1]);
    cn_haproxy__plan_dispose(&p);
}

Test(haproxy_plan, a_foreign_server_that_takes_traffic_is_refused)
{
    cn_haproxy_config_t c = cfg_be();
    cn_haproxy_server_t s[2] = {server_of("web1", "10.0.0.7:80", 5, 0),
                                server_of("cn-stable-v1-0", "10.0.0.1:80", 256, 0)};
    cn_haproxy_live_t live = {2, s};
    cn_haproxy_want_t w[1] = {want_of(CN_ROLE_STABLE, "v1", "10.0.0.1:80", 256)};
    cn_haproxy_plan_t p;
    char err[512];
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 1, &p, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err,
                     "haproxy backend 'be': server 'web1' is not canary's (its name "
                     "does not start with 'cn-') and takes traffic (weight 5, not a "
                     "backup server): the split would be wrong; make it a backup "
                     "server, give it weight 0 or remove it");
    /* a backup server, weight 0 or maintenance: left alone */
    s[0].backup = true;
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 1, &p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.count, 0);
    cr_assert(!p.leaving[0]);
    cn_haproxy__plan_dispose(&p);
    s[0].backup = false;
    s[0].admin = CN_HAPROXY_ADMF_FMAINT;
    cr_assert_eq(cn_haproxy__plan(&c, &live, w, 1, &p, err, sizeof err), 0, "%s", err);
    cn_haproxy__plan_dispose(&p);
}

/* ------------------------------------------------------------- config */

static int parse(const char *yaml, cn_haproxy_config_t *c, char *err, size_t errlen)
{
    cn_config_part_t part = {&cn_haproxy_config_table, c};
    cn_config_init(part.table, c);
    cn_yaml_t y;
    cn_yaml_init(&y, "c.yaml", err, errlen);
    y.prefix = "haproxy.";
    struct fy_document *doc = NULL;
    int rc = cn_yaml_load(&y, yaml, strlen(yaml), &doc);
    if (!rc)
        rc = cn_config_read(&y, &part, 1, fy_document_root(doc), 1);
    cn_yaml_dispose(&y);
    return rc;
}

static void config_error(const char *yaml, const char *want)
{
    cn_haproxy_config_t c;
    char err[768] = "";
    cr_assert_eq(parse(yaml, &c, err, sizeof err), CN_EINVAL, "accepted: %s", yaml);
    cr_assert_str_eq(err, want, "for %s\ngot: %s", yaml, err);
    cn_haproxy_config_dispose(&c);
}

Test(haproxy_config, defaults_and_values)
{
    cn_haproxy_config_t c;
    char err[512];
    cr_assert_eq(parse("socket: /run/haproxy/admin.sock\nbackend: models\n", &c, err,
                       sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(c.socket, "/run/haproxy/admin.sock");
    cr_assert_str_eq(c.backend, "models");
    cr_assert_str_eq(c.server_prefix, "cn-");
    cr_assert_null(c.server_options);
    cr_assert_null(c.state_file);
    cr_assert_eq(c.connect_timeout_ms, 1000);
    cr_assert_eq(c.timeout_ms, 5000);
    cr_assert_eq(c.drain_timeout_ms, 30000);
    cn_haproxy_t *h = NULL;
    cr_assert_eq(cn_haproxy_new(&c, &h, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cn_haproxy_traffic(h)->name, "haproxy");
    cn_haproxy_free(h);
    cn_haproxy_free(NULL);
    cn_haproxy_config_dispose(&c);
    cr_assert_eq(parse("socket: 127.0.0.1:9999\nbackend: be_1\nserver_prefix: canary_\n"
                       "server_options: check inter 1s maxconn 100\n"
                       "drain_timeout: 0s\ntimeout: 250ms\n",
                       &c, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(c.socket, "127.0.0.1:9999");
    cr_assert_str_eq(c.server_options, "check inter 1s maxconn 100");
    cr_assert_eq(c.drain_timeout_ms, 0);
    cr_assert_eq(c.timeout_ms, 250);
    cn_haproxy_config_dispose(&c);
}

Test(haproxy_config, each_error_names_file_line_and_key)
{
    config_error("backend: be\n",
                 "c.yaml:1: key 'haproxy.socket': required: HAProxy's admin socket "
                 "(`stats socket ... level admin`): a unix socket path or host:port");
    config_error(
        "socket: admin.sock\nbackend: be\n",
        "c.yaml:1: key 'haproxy.socket': must be the admin socket: an absolute "
        "unix socket path or host:port, got 'admin.sock'");
    config_error(
        "socket: /s\nbackend: 'my backend'\n",
        "c.yaml:2: key 'haproxy.backend': must be an HAProxy backend name of 1 "
        "to 64 letters, digits, '.', '_', '-' or ':', got 'my backend'");
    config_error(
        "socket: /s\nbackend: be\nserver_prefix: 'a/b'\n",
        "c.yaml:3: key 'haproxy.server_prefix': must be an HAProxy server name "
        "prefix of 1 to 32 letters, digits, '.', '_', '-' or ':', got 'a/b'");
    config_error("socket: /s\nbackend: be\nserver_options: check enabled\n",
                 "c.yaml:3: key 'haproxy.server_options': must not hold 'enabled' "
                 "(canary sets a server's weight and state itself; a dynamic server "
                 "added 'enabled' takes no traffic in HAProxy 2.6.12, "
                 "haproxy/haproxy#2497), got 'check enabled'");
    config_error(
        "socket: /s\nbackend: be\nserver_options: 'check; del server be/x'\n",
        "c.yaml:3: key 'haproxy.server_options': must be `add server` keywords "
        "on one line (at most 300 bytes, without ; # \\ or quotes), got 'check; "
        "del server be/x'");
    config_error("socket: /s\nbackend: be\ndrain_timeout: 2h\n",
                 "c.yaml:3: key 'haproxy.drain_timeout': must be a duration in [0ms, "
                 "1h], got '2h'");
    config_error(
        "socket: /s\nbackend: be\nweights: 3\n",
        "c.yaml:3: key 'haproxy.weights': unknown key (expected one of socket, "
        "backend, server_prefix, server_options, state_file, connect_timeout, "
        "timeout, drain_timeout)");
}

Test(haproxy_config, a_struct_built_in_code_is_checked)
{
    cn_haproxy_config_t c;
    cn_config_init(&cn_haproxy_config_table, &c);
    c.socket = cn_xstrdup("/s");
    c.backend = cn_xstrdup("bad name");
    cn_haproxy_t *h = NULL;
    char err[512];
    cr_assert_eq(cn_haproxy_new(&c, &h, err, sizeof err), CN_EINVAL);
    cr_assert_null(h);
    cr_assert(strstr(err, "haproxy: key 'backend': must be an HAProxy backend name"),
              "%s", err);
    cn_haproxy_config_dispose(&c);
}
