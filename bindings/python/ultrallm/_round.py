"""Many models at once: a round's members and options (ulm_round_options) checked and built
from compare()'s arguments, the bridges that hand its members' text and ends from C to
Python callables (text, ends, what each member waits for), and the C call itself
(ulm_round_run)."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from ._cancel import CallToken
from ._convert import c_integer, c_string, strings, text
from ._enums import ErrorCode, MemberState, enum_or_int
from ._errors import error
from ._native import (ROUND_MAX_MEMBERS, ROUND_OPTIONS_VERSION, DeltaFn, MemberDeltaFn,
                      MemberDoneFn, MemberStateFn, RoundOptions, lib, round_p)
from ._request import Models, Request
from ._results import Member, Round, read_member, read_round

# What compare() takes: a member's text as it arrives (the member's index and the text);
# a member that ended (truthy: end the round now); the synthesis's text as it arrives;
# what a running member now waits for (its index and a MemberState).
OnMemberDelta = Callable[[int, str], object]
OnMemberDone = Callable[[Member], object]
OnMemberState = Callable[[int, Union[MemberState, int]], object]
OnSynthesisDelta = Callable[[str], object]
# A member: a model string, an alias, or a fallback chain (a list, or a str with commas).
MemberSpec = Union[str, Iterable[str]]


def _text(data: Optional[int], length: int) -> str:
    return (ctypes.string_at(data, length) if data and length else b"").decode("utf-8",
                                                                               "replace")


# Each bridge keeps the first exception a callable raised in raised, triggers the round's
# token (so that the whole round stops, not only a member) and returns non-zero; the caller
# raises that exception once ulm_round_run() has returned. BaseException too, so that
# Ctrl-C inside a callback stops the round.

def _member_delta(on_delta: OnMemberDelta, raised: list[BaseException],
                  token: CallToken) -> Callable[..., int]:
    def call(member: int, data: Optional[int], length: int, _payload: Optional[int]) -> int:
        if raised:
            return 1
        try:
            on_delta(member, _text(data, length))
        except BaseException as e:  # noqa: B036  (re-raised by compare())
            raised.append(e)
            token.trigger()
            return 1
        return 0
    return call


def _member_done(on_member_done: OnMemberDone, raised: list[BaseException],
                 token: CallToken) -> Callable[..., int]:
    def call(rnd: Any, member: int, _payload: Optional[int]) -> int:
        if raised:
            return 1
        try:
            return 1 if on_member_done(read_member(rnd, member)) else 0
        except BaseException as e:  # noqa: B036  (re-raised by compare())
            raised.append(e)
            token.trigger()
            return 1
    return call


def _member_state(on_member_state: OnMemberState, raised: list[BaseException],
                  token: CallToken) -> Callable[..., None]:
    def call(member: int, state: int, _payload: Optional[int]) -> None:
        if raised:
            return
        try:
            on_member_state(member, enum_or_int(MemberState, state))
        except BaseException as e:  # noqa: B036  (re-raised by compare())
            raised.append(e)
            token.trigger()
    return call


def _synthesis_delta(on_delta: OnSynthesisDelta, raised: list[BaseException],
                     token: CallToken) -> Callable[..., int]:
    def call(data: Optional[int], length: int, _payload: Optional[int]) -> int:
        if raised:
            return 1
        try:
            on_delta(_text(data, length))
        except BaseException as e:  # noqa: B036  (re-raised by compare())
            raised.append(e)
            token.trigger()
            return 1
        return 0
    return call


class RoundSpec:
    """compare()'s members and round options, checked when made (a bad one raises before
    anything is sent), as the C array of member strings and the ulm_round_options that
    run() passes to ulm_round_run(). One spec serves one call."""

    def __init__(self, models: Sequence[MemberSpec], quorum: Optional[int],
                 timeout_ms: Optional[int], take_what_arrived: bool,
                 synthesize: Optional[Models], synthesis_template: Optional[str],
                 anonymize: bool, shuffle_seed: Optional[int],
                 answer_budget_bytes: Optional[int],
                 synthesis_share_pct: Optional[int]) -> None:
        if isinstance(models, (str, bytes)):
            raise TypeError("models: expected a list of members (model strings), got a str")
        names = [",".join(strings(member)) for member in models]
        if not names:
            raise error(ErrorCode.INVALID_ARGUMENT, "models: no member")
        if len(names) > ROUND_MAX_MEMBERS:
            raise error(ErrorCode.INVALID_ARGUMENT, "models: %d members, more than %d"
                        % (len(names), ROUND_MAX_MEMBERS))
        self.count = len(names)
        self._members = (ctypes.c_char_p * len(names))(
            *[c_string(name, "models[%d]" % i) for i, name in enumerate(names)])
        opts = RoundOptions()
        lib.ulm_round_options_init(ctypes.byref(opts), ROUND_OPTIONS_VERSION)
        # Zero means "the default" in C, so an explicit value must be >= 1.
        if quorum is not None:
            opts.quorum = c_integer(quorum, "quorum", ctypes.c_size_t, 1, maximum=len(names))
        if timeout_ms is not None:
            opts.timeout_ms = c_integer(timeout_ms, "timeout_ms", ctypes.c_long, 1)
        opts.take_what_arrived = 1 if take_what_arrived else 0
        if synthesize is not None:
            opts.synthesize = c_string(",".join(strings(synthesize)), "synthesize")
        if synthesis_template is not None:
            opts.synthesis_template = c_string(synthesis_template, "synthesis_template")
        opts.anonymize = 1 if anonymize else 0
        if shuffle_seed is not None:
            opts.shuffle_seed = c_integer(shuffle_seed, "shuffle_seed", ctypes.c_uint64, 1)
        if answer_budget_bytes is not None:
            opts.answer_budget_bytes = c_integer(answer_budget_bytes, "answer_budget_bytes",
                                                 ctypes.c_size_t, 1)
        if synthesis_share_pct is not None:
            opts.synthesis_share_pct = c_integer(synthesis_share_pct, "synthesis_share_pct",
                                                 ctypes.c_uint, 1, maximum=90)
        self._opts = opts
        self._callbacks: tuple[Any, ...] = ()

    def run(self, handle: Any, req: Request, token: CallToken, raised: list[BaseException],
            on_delta: Optional[OnMemberDelta], on_member_done: Optional[OnMemberDone],
            on_synthesis_delta: Optional[OnSynthesisDelta],
            on_member_state: Optional[OnMemberState] = None) -> Round:
        """ulm_round_run() of req's conversation on this thread: the Round, or raises the
        round's error with the Round as e.round. The callables run on this thread; what
        they raise is kept in raised, for the caller to raise."""
        opts = self._opts
        delta_fn = done_fn = synthesis_fn = state_fn = None
        if on_delta is not None:
            delta_fn = MemberDeltaFn(_member_delta(on_delta, raised, token))
            opts.on_delta = delta_fn
        if on_member_done is not None:
            done_fn = MemberDoneFn(_member_done(on_member_done, raised, token))
            opts.on_member_done = done_fn
        if on_synthesis_delta is not None:
            synthesis_fn = DeltaFn(_synthesis_delta(on_synthesis_delta, raised, token))
            opts.synthesis_on_delta = synthesis_fn
        if on_member_state is not None:
            state_fn = MemberStateFn(_member_state(on_member_state, raised, token))
            opts.on_member_state = state_fn
        # The CFUNCTYPE objects must outlive every C call that may make them.
        self._callbacks = (delta_fn, done_fn, synthesis_fn, state_fn)
        out = round_p()
        try:
            lib.ulm_round_run(ctypes.pointer(out), handle, req.handle, self._members,
                              self.count, ctypes.byref(opts))
            result = read_round(out)
            code: int = lib.ulm_round_error(out)
            if code != ErrorCode.OK:
                failure = error(code, text(lib.ulm_round_error_message(out)) or "")
                failure.round = result
                raise failure
            return result
        finally:
            if out:
                lib.ulm_round_free(out)
