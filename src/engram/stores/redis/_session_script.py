"""One-round-trip appends and session reads: a batch of one op, run as one Lua script.

The hot ops of a conversation (`AppendMessages`, `GetSession`) usually come alone in a batch.
Such a batch needs no optimistic transaction: `SESSION_SCRIPT` does the op whole on the
server, atomically, in one `EVALSHA`. It applies the rules of `engram.stores._conversation_rules`
(the same as the optimistic path in `conversation.py`, which batches of several ops take):

- the session must exist and be live at the op's `now` (`now < expires_at`);
- an append whose message ids are taken in the tenant is refused and writes nothing;
- an append numbers the messages on from `last_seq`, stores them as `base.encode_message`
  does, indexes their roles, registers their ids and the tool calls they request, adds to the
  counters and sets `updated_at` to `now`;
- an append or a touch moves an expiring session's `expires_at` to `now + ttl` and renews the
  Redis TTL of its keys (`base.ttl_millis`); the record and its index entries are rewritten
  as `SessionBatch.save` writes them.

Python validates the input first (repeated ids, roles) and encodes each message but its seq.
The script rewrites only the head of the session record (see `base.py`), never re-encoding
the session's JSON. A record of the older form is left alone: the op then takes the
optimistic path, which rewrites it.

Message ids make an append idempotent: if redis-py resends the script after a lost reply (its
retry on connection errors), the second run finds the ids taken and raises `ConflictError`;
a message is never stored twice.
"""

from __future__ import annotations

from typing import Any, Final

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores import _conversation_rules as rules
from engram.stores.conversation import AppendMessages, GetSession
from engram.stores.redis import base
from engram.stores.redis._internal import Script, Work
from engram.stores.redis._sessions import SessionBatch
from engram.types import Message, Session

__all__ = ["LEGACY", "SESSION_SCRIPT", "append_alone", "check_roles", "get_alone"]

_SOURCE = r"""
-- KEYS: 1 the session record, 2 the tenant's sessions index, 3 its expiry index.
-- ARGV: 1 now (us), 2 expiry grace (s), 3 session id, 4 mode ('get', 'touch' or 'append');
-- appends add 5 the number of messages, 6 their tokens, 7 the tenant's message-id key prefix,
-- then per message its role, id and JSON but for its seq, then the tool-call ids requested.
-- Reply: {0, record} ('get', 'touch'), {0, first seq} ('append'), {1} no live session,
-- {2} a message id is taken, {3} a record of the older form.
local ROLES = {@ROLES@}
local raw = redis.call('GET', KEYS[1])
if not raw then return {1} end
local last_seq, count, tokens, updated, expires, ttl, rest = string.match(raw,
  '^{"last_seq":(%d+),"message_count":(%d+),"token_count":(%d+),"updated_us":(%-?%d+),' ..
  '"expires_us":([%-%dnul]+),"ttl_us":([%-%dnul]+),("session":{.*)$')
if not last_seq then return {3} end
local now = tonumber(ARGV[1])
if expires ~= 'null' and now >= tonumber(expires) then return {1} end
local sid, mode, record = ARGV[3], ARGV[4], KEYS[1]
if mode == 'get' or (mode == 'touch' and ttl == 'null') then return {0, raw} end

local function bulk(command, items)
  for first = 1, #items, 1000 do
    local args = {unpack(command)}
    for i = first, math.min(first + 999, #items) do args[#args + 1] = items[i] end
    redis.call(unpack(args))
  end
end

local function escape(part)
  return (string.gsub(string.gsub(part, '%%', '%%25'), ':', '%%3A'))
end

last_seq = tonumber(last_seq)
local first_seq = last_seq + 1
if mode == 'append' then
  local n = tonumber(ARGV[5])
  if n == 0 then return {0, 0} end
  local claimed = {}
  for i = 1, n do
    local key = ARGV[7] .. escape(ARGV[6 + 3 * i])
    if not redis.call('SET', key, sid, 'NX') then
      if #claimed > 0 then bulk({'DEL'}, claimed) end
      return {2}
    end
    claimed[i] = key
  end
  local fields, ids, by_role = {}, {}, {}
  for _, role in ipairs(ROLES) do by_role[role] = {} end
  for i = 1, n do
    local seq = string.format('%d', last_seq + i)
    fields[2 * i - 1] = seq
    fields[2 * i] = '{"seq":' .. seq .. ',' .. string.sub(ARGV[7 + 3 * i], 2)
    local seqs = by_role[ARGV[5 + 3 * i]]
    local size = #seqs
    seqs[size + 1] = seq
    seqs[size + 2] = seq
    ids[i] = ARGV[6 + 3 * i]
  end
  bulk({'HSET', record .. ':m'}, fields)
  for _, role in ipairs(ROLES) do
    if #by_role[role] > 0 then bulk({'ZADD', record .. ':r:' .. role}, by_role[role]) end
  end
  local calls = {}
  for i = 8 + 3 * n, #ARGV do calls[#calls + 1] = ARGV[i] end
  if #calls > 0 then bulk({'SADD', record .. ':c'}, calls) end
  bulk({'SADD', record .. ':i'}, ids)
  last_seq = last_seq + n
  count = tonumber(count) + n
  tokens = tonumber(tokens) + tonumber(ARGV[6])
  updated = ARGV[1]
end
if ttl ~= 'null' then expires = string.format('%.0f', now + tonumber(ttl)) end

local new = string.format(
  '{"last_seq":%d,"message_count":%d,"token_count":%d,"updated_us":%s,"expires_us":%s,' ..
  '"ttl_us":%s,', last_seq, count, tokens, updated, expires, ttl) .. rest
if expires == 'null' then
  redis.call('SET', record, new)  -- and the expiry index has no entry for it
else
  local remaining = (tonumber(expires) - now) / 1e6
  if ttl ~= 'null' then remaining = math.max(remaining, tonumber(ttl) / 1e6) end
  local millis = math.max(1000, math.floor((remaining + tonumber(ARGV[2])) * 1000))
  redis.call('SET', record, new, 'PX', millis)
  for _, suffix in ipairs({':m', ':c', ':u'}) do redis.call('PEXPIRE', record .. suffix, millis) end
  for _, role in ipairs(ROLES) do redis.call('PEXPIRE', record .. ':r:' .. role, millis) end
  redis.call('ZADD', KEYS[3], expires, sid)
end
redis.call('ZADD', KEYS[2], updated, sid)
-- The session's first user_id key is its own (no string holds an unescaped quote).
local owned = string.find(rest, ',"user_id":', 1, true)
if owned ~= string.find(rest, ',"user_id":null,"agent_id":null,', 1, true) then
  local session = cjson.decode('{' .. rest).session
  if type(session.user_id) == 'string' then
    redis.call('ZADD', KEYS[2] .. ':user:' .. escape(session.user_id), updated, sid)
  end
  if type(session.agent_id) == 'string' then
    redis.call('ZADD', KEYS[2] .. ':agent:' .. escape(session.agent_id), updated, sid)
  end
end
if mode == 'append' then return {0, first_seq} end
return {0, new}
"""

SESSION_SCRIPT = Script(
    _SOURCE.replace("@ROLES@", ", ".join(f"'{role}'" for role in base.INDEXED_ROLES))
)
"""The script; it derives a session's other keys from its record key as `base.Keys` lays them
out, and owner-index keys from the sessions index (so it needs one Redis, not a cluster)."""

LEGACY: Final[Any] = object()
"""What `append_alone` and `get_alone` return for a record of the older form (`base.py`)."""

_ABSENT, _TAKEN, _OLD_FORM = 1, 2, 3


def check_roles(messages: tuple[Message, ...]) -> None:
    """Reject a message whose role has no seq index (see `base.INDEXED_ROLES`)."""
    roles = {message.role for message in messages} - set(base.INDEXED_ROLES)
    if roles:
        raise InvalidInputError(f"unknown message role(s): {', '.join(sorted(roles))}")


def _keys(batch: SessionBatch, tenant: str, session_id: str) -> list[str]:
    keys = batch.keys
    return [keys.session(tenant, session_id).record, keys.sessions(tenant), keys.expiry(tenant)]


def _not_found(tenant: str, session_id: str) -> NotFoundError:
    return NotFoundError(f"no session {session_id!r} in tenant {tenant!r}")


def append_alone(batch: SessionBatch, op: AppendMessages) -> Work[Any]:
    """`AppendMessages` as the only op of its batch: the stored messages, or `LEGACY`."""
    rules.check_append(op)
    check_roles(op.messages)
    tokens = sum(message.tokens or 0 for message in op.messages)
    args: list[Any] = [base.micros(op.now), batch.grace, op.session_id, "append"]
    args += (len(op.messages), tokens, batch.keys.message_id(op.tenant, ""))
    for message in op.messages:
        args += (message.role, message.id, base.message_body(message, op.session_id))
    args += rules.requested_call_ids(op.messages)
    reply = yield SESSION_SCRIPT.read(_keys(batch, op.tenant, op.session_id), args)
    status = int(reply[0])
    if status == _OLD_FORM:
        return LEGACY
    if status == _ABSENT:
        raise _not_found(op.tenant, op.session_id)
    if status == _TAKEN:
        raise ConflictError(f"session {op.session_id!r}: a message id already exists")
    return rules.stamp_messages(op.messages, op.session_id, int(reply[1]) - 1)


def get_alone(batch: SessionBatch, op: GetSession) -> Work[Any]:
    """`GetSession` as the only op of its batch: the session (touched if asked), or `LEGACY`."""
    args = [base.micros(op.now), batch.grace, op.session_id, "touch" if op.touch else "get"]
    reply = yield SESSION_SCRIPT.read(_keys(batch, op.tenant, op.session_id), args)
    status = int(reply[0])
    if status == _OLD_FORM:
        return LEGACY
    if status == _ABSENT:
        return None
    session: Session = base.decode_record(reply[1])[0]
    return session
