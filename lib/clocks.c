/* clocks.c - the connect, load, first-token, idle and overall clocks of one attempt. */
#include "clock.h"
#include "clocks.h"

/*
 * Before the first token the waiting differs by backend. A cloud backend has the
 * first-token timeout from the moment the request went out. A local model may have to
 * load first, and DMR sends nothing before it has, so the first-token clock starts
 * when the answer begins or when the load budget is spent, whichever comes first.
 */
static double first_token_limit(const ulm_clocks *k, int *code)
{
    if (!k->load_end) {
        *code = ULM_EFIRST_TOKEN_TIMEOUT;
        return k->connected_at + (double)k->first_token_ms;
    }
    if (!k->headers_at) {
        *code = ULM_ELOAD_TIMEOUT;
        return k->load_end + (double)k->first_token_ms;
    }
    *code = ULM_EFIRST_TOKEN_TIMEOUT;
    double began = k->headers_at < k->load_end ? k->headers_at : k->load_end;
    return began + (double)k->first_token_ms;
}

double ulm__clocks_next(const ulm_clocks *k, int *code)
{
    int phase_code;
    double phase;
    if (!k->connected_at) {
        phase_code = ULM_ECONNECT_TIMEOUT;
        phase = k->attempt_start + (double)k->connect_ms;
    } else if (!k->first_token_at) {
        phase = first_token_limit(k, &phase_code);
    } else {
        phase_code = ULM_EIDLE_TIMEOUT;
        phase = k->last_activity + (double)k->idle_ms;
    }
    if (k->deadline <= phase) {
        *code = ULM_ETIMEOUT;
        return k->deadline;
    }
    *code = phase_code;
    return phase;
}

void ulm__clocks_token(ulm_clocks *k, double now)
{
    if (!k->first_token_at)
        k->first_token_at = now;
    k->last_activity = now;
}

void ulm__clocks_describe(const ulm_clocks *k, int code, char *out, size_t size)
{
    switch (code) {
    case ULM_ECONNECT_TIMEOUT:
        ulm__set_errbuf(out, size, "no connection within %ld ms", k->connect_ms);
        break;
    case ULM_ELOAD_TIMEOUT:
        ulm__set_errbuf(out, size,
                        "no answer within the load budget of %ld ms plus the first-token "
                        "timeout of %ld ms", k->load_ms, k->first_token_ms);
        break;
    case ULM_EFIRST_TOKEN_TIMEOUT:
        ulm__set_errbuf(out, size, "no first token within %ld ms", k->first_token_ms);
        break;
    case ULM_EIDLE_TIMEOUT:
        ulm__set_errbuf(out, size, "the answer stalled for more than %ld ms", k->idle_ms);
        break;
    default:
        ulm__set_errbuf(out, size, "the call's deadline passed");
        break;
    }
}

void ulm__clocks_start(ulm_clocks *k, const ulm_timeouts *tm, int local, double deadline,
                       double load_end)
{
    double now = ulm__now_ms();
    *k = (ulm_clocks){
        .deadline = deadline,
        .attempt_start = now,
        .load_end = local ? (load_end ? load_end : now + (double)tm->ms[ULM_CLOCK_LOAD]) : 0,
        .connect_ms = tm->ms[ULM_CLOCK_CONNECT],
        .load_ms = tm->ms[ULM_CLOCK_LOAD],
        .first_token_ms = tm->ms[ULM_CLOCK_FIRST_TOKEN],
        .idle_ms = tm->ms[ULM_CLOCK_IDLE],
    };
}
