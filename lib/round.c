/* round.c - ulm_round_run(): one request to many members at once, compared, then combined. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agreement.h"
#include "clock.h"
#include "driver.h"
#include "metrics.h"
#include "request.h"
#include "synthesis_prompt.h"

#define DEFAULT_ANSWER_BUDGET 8000
#define DEFAULT_SYNTHESIS_SHARE_PCT 30u
#define MAX_SYNTHESIS_SHARE_PCT 90u

typedef struct member {
    ulm_round *round;
    size_t index;
    char *spec;
    ulm_call call;
    ulm_response *resp; /* once it ended */
    char label[80];
    int truncated;
    int told;           /* the ulm_member_state on_member_state was last told */
} member;

struct ulm_round {
    int error;
    char *error_message;
    double latency_ms;
    size_t count;
    member *members;
    size_t *order;          /* member indexes in the order they ended */
    size_t finished;
    size_t answered;
    ulm_response *synthesis;
    double *agreement;      /* count x count, -1 where either did not answer */
    int *dissents;

    /* while it runs */
    ulm_round_options options; /* the caller's, of any version, as the latest version */
    int stop;               /* the quorum was reached or lost, or on_member_done said so */
    size_t quorum_lost_by;  /* the member whose failure left too few to reach the quorum,
                               (size_t)-1 while it can still be reached */
    double members_end;     /* the members' deadline */
    const ulm_request *req;
    const ulm_cancel *cancel; /* the request's token */
};

/* The size of the options struct a caller built against version has: a caller of version
 * 1 has a shorter struct, and nothing past its end may be read or written. */
static size_t options_size(unsigned int version)
{
    return version == 1 ? offsetof(ulm_round_options, on_member_state) : sizeof(ulm_round_options);
}

static int known_version(unsigned int version)
{
    return version >= 1 && version <= ULM_ROUND_OPTIONS_VERSION;
}

int ulm_round_options_init(ulm_round_options *opts, unsigned int version)
{
    if (!opts)
        return ULM_EINVAL;
    if (!known_version(version))
        return ULM_EVERSION;
    ulm_round_options init = ULM_ROUND_OPTIONS_INIT;
    init.version = version;
    memcpy(opts, &init, options_size(version));
    return ULM_OK;
}

/* ------------------------------------------------------------ checks before anything is sent */

static int set_error(ulm_round *r, int code, const char *message)
{
    r->error = code;
    ulm__free(r->error_message);
    r->error_message = ulm__strdup(message);
    return r->error_message ? code : ULM_ENOMEM;
}

static int has_prompt(const ulm_request *req)
{
    for (size_t i = 0; i < ulm_request_message_count(req); i++)
        if (*ulm_request_message_content(req, i))
            return 1;
    return 0;
}

/* Why the arguments cannot make a round, into why; ULM_OK when they can. */
static int check_arguments(ulm_client *c, const ulm_request *req, size_t count,
                           const ulm_round_options *o, const char **template, char *why,
                           size_t size)
{
    if (count == 0) {
        ulm__set_errbuf(why, size, "round: no member");
        return ULM_EINVAL;
    }
    if (count > ULM_ROUND_MAX_MEMBERS) {
        ulm__set_errbuf(why, size, "round: %zu members, more than the %d a round takes", count,
                        ULM_ROUND_MAX_MEMBERS);
        return ULM_EINVAL;
    }
    if (!has_prompt(req)) {
        ulm__set_errbuf(why, size, "round: the request has no prompt (no message with text)");
        return ULM_EINVAL;
    }
    if (o->quorum > count) {
        ulm__set_errbuf(why, size, "round: a quorum of %zu among %zu members", o->quorum,
                        count);
        return ULM_EINVAL;
    }
    if (o->synthesis_share_pct > MAX_SYNTHESIS_SHARE_PCT) {
        ulm__set_errbuf(why, size, "round: synthesis_share_pct %u is above %u",
                        o->synthesis_share_pct, MAX_SYNTHESIS_SHARE_PCT);
        return ULM_EINVAL;
    }
    if (o->timeout_ms < 0 || o->timeout_ms > ULM_MAX_TIMEOUT_MS) {
        ulm__set_errbuf(why, size, "round: timeout_ms %ld is outside 0 to %ld", o->timeout_ms,
                        ULM_MAX_TIMEOUT_MS);
        return ULM_EINVAL;
    }
    if (!o->synthesize)
        return ULM_OK;
    *template = o->synthesis_template                 ? o->synthesis_template
                : c->settings.file.synthesis_template ? c->settings.file.synthesis_template
                                                      : ULM_SYNTHESIS_DEFAULT_TEMPLATE;
    int rc = ulm__synthesis_template_check(*template, why, size);
    if (rc != ULM_OK)
        return rc;
    ulm_target_list targets = {0};
    rc = ulm__route(c, req, o->synthesize, &targets, why, size);
    ulm__target_list_clear(&targets);
    return rc;
}

/* ------------------------------------------------------------ the members */

/* The member whose text this thread is delivering, for ulm_round_delta_member(). */
static _Thread_local size_t delta_member = ULM_ROUND_NO_MEMBER;

size_t ulm_round_delta_member(void)
{
    return delta_member;
}

/* Tells the caller what member m now waits for, when that changed. */
static void tell_state(member *m, int state)
{
    const ulm_round_options *o = &m->round->options;
    if (state == m->told || !o->on_member_state)
        return;
    m->told = state;
    o->on_member_state(m->index, state, o->state_payload);
}

/* A member's text goes to the round's callback with its index, else to the request's,
 * which can ask ulm_round_delta_member() whose text it is. */
static int member_delta(const char *text, size_t length, void *payload)
{
    member *m = payload;
    const ulm_round_options *o = &m->round->options;
    size_t outer = delta_member; /* a round run from inside another round's callback */
    delta_member = m->index;
    int rc;
    tell_state(m, ULM_MEMBER_ANSWERING);
    if (o->on_delta) {
        rc = o->on_delta(m->index, text, length, o->delta_payload);
    } else {
        void *request_payload;
        ulm_delta_fn request_fn = ulm__request_on_delta(m->round->req, &request_payload);
        rc = request_fn(text, length, request_payload);
    }
    delta_member = outer;
    return rc;
}

static void member_state(ulm_call *k, int state, void *ctx)
{
    (void)k;
    tell_state(ctx, state);
}

static void member_done(ulm_call *k, void *ctx)
{
    member *m = ctx;
    ulm_round *r = m->round;
    m->resp = ulm__call_take_response(k);
    r->order[r->finished++] = m->index;
    if (m->resp && m->resp->error == ULM_OK)
        r->answered++;
    if (r->stop)
        return;
    size_t quorum = r->options.quorum, running = r->count - r->finished;
    if (quorum && r->answered >= quorum)
        r->stop = 1;
    /* the members still running cannot make up the quorum: waiting for them changes
     * nothing, unless the caller takes what arrives. A member ended by the round's own
     * deadline or token is not a failure of its own: rule 4 of the outcome tells those. */
    int ended_by_round = ulm__now_ms() >= r->members_end ||
                         (r->cancel && ulm_cancel_triggered(r->cancel));
    if (quorum && r->answered + running < quorum && !r->options.take_what_arrived &&
        !ended_by_round) {
        r->quorum_lost_by = m->index;
        r->stop = 1;
    }
    if (r->options.on_member_done &&
        r->options.on_member_done(r, m->index, r->options.done_payload) != 0)
        r->stop = 1;
}

static int should_stop(void *ctx)
{
    return ((const ulm_round *)ctx)->stop;
}

/* Runs every member on e until each has ended, its quorum is met, or it is cancelled. */
static int run_members(ulm_round *r, ulm_client *c, const ulm_request *req, ulm_engine *e,
                       double deadline, double now)
{
    ulm_call **calls = ulm__calloc(r->count, sizeof *calls);
    if (!calls)
        return ULM_ENOMEM;
    int rc = ULM_OK;
    for (size_t i = 0; rc == ULM_OK && i < r->count; i++) {
        member *m = &r->members[i];
        void *unused;
        int streamed = r->options.on_delta || ulm__request_on_delta(req, &unused);
        ulm_call_setup setup = {.models = m->spec, .deadline_cap = deadline,
                                .on_delta = streamed ? member_delta : NULL, .payload = m};
        rc = ulm__call_init(&m->call, c, req, now, &setup);
        m->call.on_done = member_done;
        m->call.on_done_ctx = m;
        if (r->options.on_member_state) {
            m->call.on_state = member_state;
            m->call.on_state_ctx = m;
        }
        calls[i] = &m->call;
    }
    if (rc == ULM_OK) {
        ulm_driver d = {.engine = e, .calls = calls, .count = r->count,
                        .cancel = ulm__request_cancel(req), .should_stop = should_stop, .ctx = r};
        rc = ulm__driver_run(&d);
    }
    ulm__free(calls);
    for (size_t i = 0; i < r->count; i++)
        if (!r->members[i].resp && r->members[i].call.state == ULM_CALL_DONE)
            rc = ULM_ENOMEM; /* a member's response could not be made */
    return rc;
}

/* ------------------------------------------------------------ comparing them */

static const ulm_response *answer(const ulm_round *r, size_t i)
{
    const ulm_response *resp = r->members[i].resp;
    return resp && resp->error == ULM_OK ? resp : NULL;
}

static int compare_members(ulm_round *r)
{
    size_t n = r->count;
    if (!(r->agreement = ulm__calloc(n * n, sizeof *r->agreement)) ||
        !(r->dissents = ulm__calloc(n, sizeof *r->dissents)))
        return ULM_ENOMEM;
    ulm_word_set **sets = ulm__calloc(n, sizeof *sets);
    int rc = sets ? ULM_OK : ULM_ENOMEM;
    for (size_t i = 0; i < n && rc == ULM_OK; i++) {
        const ulm_response *a = answer(r, i);
        if (a && !(sets[i] = ulm__word_set_new(a->text, a->text_len)))
            rc = ULM_ENOMEM;
    }
    for (size_t i = 0; i < n && rc == ULM_OK; i++)
        for (size_t j = i; j < n; j++)
            r->agreement[i * n + j] = r->agreement[j * n + i] =
                sets[i] && sets[j] ? ulm__word_set_agreement(sets[i], sets[j]) : -1;
    for (size_t i = 0; sets && i < n; i++)
        ulm__word_set_free(sets[i]);
    ulm__free(sets);
    if (rc != ULM_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!answer(r, i))
            continue;
        size_t others = 0, agreeing = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i || !answer(r, j))
                continue;
            others++;
            agreeing += r->agreement[i * n + j] >= ULM_AGREEMENT_THRESHOLD;
        }
        r->dissents[i] = others > 0 && agreeing * 2 < others;
    }
    return ULM_OK;
}

/* ------------------------------------------------------------ combining them */

static uint64_t next_random(uint64_t *state)
{
    /* xorshift64*: shuffling needs spread, not secrecy */
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

/* The answers in the order the synthesis prompt shows them, with their labels. */
static size_t order_answers(ulm_round *r, size_t *shown, double now)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        if (answer(r, i))
            shown[n++] = i;
    if (r->options.anonymize) {
        uint64_t state = r->options.shuffle_seed ? r->options.shuffle_seed
                                               : (uint64_t)(now * 1e3) ^ (uint64_t)(uintptr_t)r;
        state |= 1;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(next_random(&state) % i);
            size_t tmp = shown[i - 1];
            shown[i - 1] = shown[j];
            shown[j] = tmp;
        }
    }
    for (size_t k = 0; k < n; k++) {
        member *m = &r->members[shown[k]];
        if (r->options.anonymize)
            ulm__synthesis_label(k, m->label, sizeof m->label);
        else
            snprintf(m->label, sizeof m->label, "%s/%s", m->resp->provider, m->resp->model);
    }
    return n;
}

static int synthesize(ulm_round *r, ulm_client *c, const ulm_request *req, ulm_engine *e,
                      const char *template, double deadline, double now)
{
    size_t *shown = ulm__calloc(r->count, sizeof *shown);
    ulm_synthesis_answer *answers = ulm__calloc(r->count, sizeof *answers);
    int *truncated = ulm__calloc(r->count, sizeof *truncated);
    int rc = shown && answers && truncated ? ULM_OK : ULM_ENOMEM;
    size_t n = rc == ULM_OK ? order_answers(r, shown, now) : 0;
    for (size_t k = 0; k < n; k++) {
        const member *m = &r->members[shown[k]];
        answers[k] = (ulm_synthesis_answer){m->label, m->resp->text, m->resp->text_len};
    }
    size_t budget = r->options.answer_budget_bytes ? r->options.answer_budget_bytes
                                                 : DEFAULT_ANSWER_BUDGET;
    ulm_request *prompt = NULL;
    char why[ULM_ERROR_SIZE] = "";
    if (rc == ULM_OK)
        rc = ulm__synthesis_request(&prompt, req, template, answers, n, budget, truncated, why,
                                    sizeof why);
    for (size_t k = 0; rc == ULM_OK && k < n; k++)
        r->members[shown[k]].truncated = truncated[k];
    /* the synthesizer is held to the round's request as a member is: its clocks, its keys
     * and URLs */
    if (rc == ULM_OK)
        rc = ulm__request_copy_call_settings(req, prompt);
    ulm_call k;
    memset(&k, 0, sizeof k);
    if (rc == ULM_OK) {
        ulm_call_setup setup = {.models = r->options.synthesize, .deadline_cap = deadline,
                                .on_delta = r->options.synthesis_on_delta,
                                .payload = r->options.synthesis_payload};
        rc = ulm__call_init(&k, c, prompt, ulm__now_ms(), &setup);
    }
    if (rc == ULM_OK) {
        ulm_call *calls[1] = {&k};
        ulm_driver d = {.engine = e, .calls = calls, .count = 1,
                        .cancel = ulm__request_cancel(req)};
        ulm__driver_run(&d);
        if (!(r->synthesis = ulm__call_take_response(&k)))
            rc = ULM_ENOMEM;
    } else if (rc != ULM_ENOMEM) {
        rc = set_error(r, rc, why);
    }
    ulm__call_clear(&k);
    ulm_request_free(prompt);
    ulm__free(shown);
    ulm__free(answers);
    ulm__free(truncated);
    return rc;
}

/* ------------------------------------------------------------ the round's outcome */

/* "no member answered: a: <message>; b: <message>", as much as fits. */
static int fail_without_answer(ulm_round *r)
{
    char message[ULM_ERROR_SIZE];
    size_t used = (size_t)snprintf(message, sizeof message, "no member answered:");
    int code = ULM_EINVAL;
    int all_invalid = 1;
    for (size_t i = 0; i < r->count; i++) {
        const ulm_response *resp = r->members[i].resp;
        all_invalid &= resp->error == ULM_EINVAL && resp->attempt_count == 0;
        if (used < sizeof message)
            used += (size_t)snprintf(message + used, sizeof message - used, "%s %s: %s",
                                     i ? ";" : "", r->members[i].spec, resp->error_message);
    }
    /* the class of the member whose failure lost the quorum, else of the member that ended
     * last, unless every member string was wrong */
    if (r->quorum_lost_by != (size_t)-1)
        code = r->members[r->quorum_lost_by].resp->error;
    else if (!all_invalid && r->finished)
        code = r->members[r->order[r->finished - 1]].resp->error;
    return set_error(r, code, message);
}

/* "the quorum of k can no longer be reached: f of n members failed: a: <message>; ..." */
static int fail_quorum_lost(ulm_round *r)
{
    size_t before = 0, failed = 0; /* the members that had ended when the quorum was lost */
    while (r->order[before++] != r->quorum_lost_by)
        continue;
    for (size_t k = 0; k < before; k++)
        failed += r->members[r->order[k]].resp->error != ULM_OK;
    char message[ULM_ERROR_SIZE];
    size_t used = (size_t)snprintf(message, sizeof message,
                                   "the quorum of %zu can no longer be reached: %zu of %zu "
                                   "members failed:",
                                   r->options.quorum, failed, r->count);
    size_t told = 0;
    for (size_t k = 0; k < before && used < sizeof message; k++) {
        const member *m = &r->members[r->order[k]];
        if (m->resp->error != ULM_OK)
            used += (size_t)snprintf(message + used, sizeof message - used, "%s %s: %s",
                                     told++ ? ";" : "", m->spec, m->resp->error_message);
    }
    return set_error(r, r->members[r->quorum_lost_by].resp->error, message);
}

static int members_outcome(ulm_round *r, int cancelled)
{
    int cut_short = cancelled;
    for (size_t i = 0; i < r->count; i++)
        cut_short |= r->members[i].resp->error == ULM_ETIMEOUT;
    if (!r->answered)
        return fail_without_answer(r);
    if (r->quorum_lost_by != (size_t)-1)
        return fail_quorum_lost(r);
    int quorum_met = r->options.quorum ? r->answered >= r->options.quorum
                                     : r->finished == r->count && !cut_short;
    if (quorum_met || r->options.take_what_arrived)
        return ULM_OK;
    char message[ULM_ERROR_SIZE];
    snprintf(message, sizeof message, "%s before %zu of %zu members answered (%zu did)",
             cancelled ? "the round was cancelled" : "the round's deadline passed",
             r->options.quorum ? r->options.quorum : r->count, r->count, r->answered);
    return set_error(r, cancelled ? ULM_ECANCELLED : ULM_ETIMEOUT, message);
}

/* When the members must be done: the round's end, less the synthesizer's share. */
static double members_deadline(const ulm_round_options *o, double start, double end)
{
    if (!o->synthesize)
        return end;
    unsigned int pct = o->synthesis_share_pct ? o->synthesis_share_pct
                                              : DEFAULT_SYNTHESIS_SHARE_PCT;
    return start + (end - start) * (double)(100u - pct) / 100.0;
}

static int run(ulm_round *r, ulm_client *c, const ulm_request *req, const char *template,
               double start)
{
    ulm_timeouts tm;
    ulm__request_timeouts(req, &c->settings.timeouts, &tm);
    double end = start + (double)(r->options.timeout_ms ? r->options.timeout_ms
                                                       : tm.ms[ULM_CLOCK_OVERALL]);
    ulm_engine *e = NULL;
    int rc = ulm__engine_borrow(c->engines, &e);
    r->members_end = members_deadline(&r->options, start, end);
    r->cancel = ulm__request_cancel(req);
    r->req = req;
    if (rc == ULM_OK)
        rc = run_members(r, c, req, e, r->members_end, start);
    int cancelled = ulm_cancel_triggered(ulm__request_cancel(req));
    if (rc == ULM_OK)
        rc = compare_members(r);
    if (rc == ULM_OK)
        rc = members_outcome(r, cancelled);
    if (rc == ULM_OK && r->options.synthesize && !cancelled) {
        rc = synthesize(r, c, req, e, template, end, ulm__now_ms());
        if (rc == ULM_OK && r->synthesis->error != ULM_OK) {
            char message[ULM_ERROR_SIZE];
            snprintf(message, sizeof message, "synthesis: %s", r->synthesis->error_message);
            rc = set_error(r, r->synthesis->error, message);
        }
    }
    if (e)
        ulm__engine_return(c->engines, e);
    unsigned int stopped = 0;
    for (size_t i = 0; i < r->count; i++)
        stopped += r->members[i].resp && r->members[i].resp->error == ULM_ECANCELLED;
    ulm__metrics_round(c->metrics, (unsigned int)r->count,
                       r->options.quorum && r->answered >= r->options.quorum, stopped);
    return rc;
}

int ulm_round_run(ulm_round **out, ulm_client *client, const ulm_request *req,
                  const char *const *members, size_t count, const ulm_round_options *opts)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    ulm_round_options defaults = ULM_ROUND_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
    if (!client || !req || (!members && count) || !known_version(opts->version))
        return !known_version(opts->version) ? ULM_EVERSION : ULM_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!members[i])
            return ULM_EINVAL;
    double start = ulm__now_ms();
    ulm_round *r = ulm__calloc(1, sizeof *r);
    if (!r)
        return ULM_ENOMEM;
    r->options = defaults;
    memcpy(&r->options, opts, options_size(opts->version));
    r->quorum_lost_by = (size_t)-1;
    const char *template = NULL;
    char why[ULM_ERROR_SIZE];
    int rc = check_arguments(client, req, count, &r->options, &template, why, sizeof why);
    if (rc != ULM_OK && rc != ULM_ENOMEM)
        rc = set_error(r, rc, why);
    else if (rc == ULM_OK) {
        r->count = count;
        r->members = ulm__calloc(count, sizeof *r->members);
        r->order = ulm__calloc(count, sizeof *r->order);
        rc = r->members && r->order ? ULM_OK : ULM_ENOMEM;
        for (size_t i = 0; rc == ULM_OK && i < count; i++) {
            r->members[i] = (member){.round = r, .index = i, .spec = ulm__strdup(members[i])};
            if (!r->members[i].spec)
                rc = ULM_ENOMEM;
        }
        if (rc == ULM_OK)
            rc = run(r, client, req, template, start);
    }
    r->latency_ms = ulm__now_ms() - start;
    /* its strings and callbacks are the caller's, for the run only */
    memset(&r->options, 0, sizeof r->options);
    if (rc == ULM_ENOMEM) {
        ulm_round_free(r);
        return ULM_ENOMEM;
    }
    if (!r->error_message && !(r->error_message = ulm__strdup(""))) {
        ulm_round_free(r);
        return ULM_ENOMEM;
    }
    *out = r;
    return r->error;
}

void ulm_round_free(ulm_round *round)
{
    if (!round)
        return;
    for (size_t i = 0; round->members && i < round->count; i++) {
        ulm__call_clear(&round->members[i].call);
        ulm_response_free(round->members[i].resp);
        ulm__free(round->members[i].spec);
    }
    ulm__free(round->members);
    ulm__free(round->order);
    ulm__free(round->agreement);
    ulm__free(round->dissents);
    ulm_response_free(round->synthesis);
    ulm__free(round->error_message);
    ulm__free(round);
}

/* ------------------------------------------------------------ reading it */

int ulm_round_error(const ulm_round *round)
{
    return round ? round->error : ULM_EINVAL;
}

const char *ulm_round_error_message(const ulm_round *round)
{
    return round && round->error_message ? round->error_message : "";
}

double ulm_round_latency_ms(const ulm_round *round)
{
    return round ? round->latency_ms : 0;
}

size_t ulm_round_member_count(const ulm_round *round)
{
    return round ? round->count : 0;
}

const char *ulm_round_member_spec(const ulm_round *round, size_t i)
{
    return round && i < round->count ? round->members[i].spec : "";
}

const ulm_response *ulm_round_member(const ulm_round *round, size_t i)
{
    return round && i < round->count ? round->members[i].resp : NULL;
}

const char *ulm_round_member_label(const ulm_round *round, size_t i)
{
    return round && i < round->count ? round->members[i].label : "";
}

int ulm_round_member_truncated(const ulm_round *round, size_t i)
{
    return round && i < round->count ? round->members[i].truncated : 0;
}

size_t ulm_round_finished_count(const ulm_round *round)
{
    return round ? round->finished : 0;
}

size_t ulm_round_finished(const ulm_round *round, size_t k)
{
    return round && k < round->finished ? round->order[k] : (size_t)-1;
}

double ulm_round_agreement(const ulm_round *round, size_t i, size_t j)
{
    if (!round || !round->agreement || i >= round->count || j >= round->count)
        return -1;
    return round->agreement[i * round->count + j];
}

int ulm_round_member_dissents(const ulm_round *round, size_t i)
{
    return round && round->dissents && i < round->count ? round->dissents[i] : 0;
}

/* Whether an attempt failed before any model could have seen the request. */
static int sent_nothing(int error)
{
    return error == ULM_ENOT_CONFIGURED || error == ULM_ECONNECT ||
           error == ULM_ECONNECT_TIMEOUT || error == ULM_ECIRCUIT_OPEN || error == ULM_EBUSY;
}

/*
 * A call's cost as a round adds it up: its own when known; 0 for a failed call none of
 * whose attempts reached a model (no key, no connection, a breaker open, no slot, or no
 * attempt at all); else -1, unknown: a call that failed or was stopped after its request
 * was sent may have been billed for what the model read and wrote.
 */
static double call_cost(const ulm_response *resp)
{
    if (resp->cost >= 0)
        return resp->cost;
    if (resp->error == ULM_OK)
        return -1;
    for (size_t i = 0; i < resp->attempt_count; i++)
        if (!sent_nothing(resp->attempts[i].error))
            return -1;
    return 0;
}

double ulm_round_cost(const ulm_round *round)
{
    if (!round)
        return -1;
    double sum = 0;
    for (size_t i = 0; i < round->count; i++) {
        const ulm_response *m = round->members[i].resp;
        double cost = m ? call_cost(m) : -1;
        if (cost < 0)
            return -1;
        sum += cost;
    }
    if (round->synthesis) {
        double cost = call_cost(round->synthesis);
        if (cost < 0)
            return -1;
        sum += cost;
    }
    return sum;
}

const ulm_response *ulm_round_synthesis(const ulm_round *round)
{
    return round ? round->synthesis : NULL;
}
