-- KEYS[1] fencing counter (also hands out queue sequence numbers), KEYS[2] waiter deadlines
--   (zset id -> ms), KEYS[3] waiter info (hash id -> JSON) (the caller's wake list is named from its id,
--   like every wake list: see hand_over in lib.lua), KEYS[4] the live events stream (grants, queueing),
-- KEYS[5..] three per candidate device, in the request's device order: holders (zset token -> expiry ms),
--   holder info (hash token -> JSON), stats (hash); then every device's queue (zset id -> seq), the
--   candidates' first, in the same order
-- ARGV[1] lease token (its first 16 characters are the waiter id; it ends in '.amount', the units of the
--   device it asks for: MiB on memory-weighted devices, 1 on slot-counted ones), ARGV[2] waiter seq (0: not queued yet),
-- ARGV[3] waiter ttl ms (retry within this or count as dead), ARGV[4] owner JSON object
--   (task_id, task_name, host, pid), ARGV[5] waited ms, ARGV[6] the request, space-separated integers:
--   lease ttl ms, lock timeout ms, number of candidates, the position (0-based) and index of the candidate
--   an unheld request takes (the largest, lowest index on ties), claim window ms, requested device (-1: any),
--   then index and capacity of each candidate device (one argument instead of many: each costs the client
--   and the server)
-- returns, space-separated (one string parses faster than an array on the client):
--         '1 device fencing_token expiry_ms now_ms granted_ms' when this call granted the caller a lease (the
--         client counts its wait in the device's histogram: gpu_lock/lease_figures.py);
--         '2 ...' the same, for a lease handed to the caller before (the hand-over counted its wait);
--         '0 seq earliest_holder_expiry_ms now_ms' (expiry 0: no lease held) when the caller is queued
-- Units freed here (expired leases) go straight to the first live waiters (see fill in lib.lua).
-- A caller not yet queued takes its amount only from a device whose queue is empty once served, so it
-- never barges ahead of a waiter; among such devices the one with the most free units wins (lowest
-- index on ties). A queued caller takes its amount when it comes first and fits, or finds the lease
-- handed to it since its last try, which it extends to a full TTL.
-- The uncontended case (a caller not queued, every candidate unheld) is served before queue.lua is
-- included: an unheld device has no live waiter (the script that freed its last units served every one
-- that fits), so it needs no purge and no queue read; its grant is the first thing the script does.

local now = now_ms()
local token, seq = ARGV[1], tonumber(ARGV[2])
local waited_ms = tonumber(ARGV[5])
local amount = amount_of(token)
local ttl_ms, lock_timeout_ms, candidates, first_position, first_index =
  string.match(ARGV[6], '^(%d+) (%d+) (%d+) (%d+) (%d+)')
ttl_ms, lock_timeout_ms, candidates = tonumber(ttl_ms), tonumber(lock_timeout_ms), tonumber(candidates)

-- Grant the caller `amount` of the device whose holders, info and stats are KEYS[k..k+2].
local function grant(k, index)
  local fencing = redis.call('INCR', KEYS[1])
  local lock_deadline = now + lock_timeout_ms
  local expiry = math.min(now + ttl_ms, lock_deadline)
  redis.call('ZADD', KEYS[k], expiry, token)
  redis.call('HSET', KEYS[k + 1], token, holder_json(ARGV[4], now, fencing, lock_deadline, waited_ms))
  emit_lease(KEYS[4], 'action', 'granted', 'device', index, 'fencing_token', fencing, 'owner', ARGV[4],
             'amount', amount)
  return string.format('1 %d %d %d %d %d', index, fencing, expiry, now, now)
end

if seq == 0 then
  local held = false
  for i = 0, candidates - 1 do
    if redis.call('EXISTS', KEYS[5 + 3 * i]) == 1 then
      held = true
      break
    end
  end
  if not held then
    return grant(5 + 3 * tonumber(first_position), tonumber(first_index))
  end
end

-- include: queue

local waiter = string.sub(token, 1, 16)
local request = {}
for value in string.gmatch(ARGV[6], '%S+') do
  request[#request + 1] = tonumber(value)
end
local requested = request[7]
local g = grant_context(KEYS[1], KEYS[2], KEYS[3], 5 + 3 * candidates, request[6], KEYS[4])
local devices = {}
for i = 1, candidates do
  local k = 2 + 3 * i
  devices[i] = device(request[6 + 2 * i], request[7 + 2 * i], KEYS[k], KEYS[k + 1], KEYS[k + 2], g.queues[i])
  devices[i].k = k
end

local function take(d)
  if seq > 0 then
    unqueue(g, waiter, d.waiters)
    redis.call('DEL', WAKE_PREFIX .. waiter)
  end
  return grant(d.k, d.index)
end

local function enqueue()
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), waiter)
  local info = string.sub(ARGV[4], 1, -2) .. string.format(
    ',"since_ms":%d,"device":%d,"lock_timeout_ms":%d,"token":"%s"}', now, requested, lock_timeout_ms, token)
  if redis.call('HSETNX', KEYS[3], waiter, info) == 1 then
    emit_lease(KEYS[4], 'action', 'queued', 'device', requested, 'owner', ARGV[4], 'amount', amount)
  end
  for _, d in ipairs(devices) do
    redis.call('ZADD', d.waiters, seq, waiter)
  end
end

if seq > 0 then
  -- A slot handed to the caller while it was not blocked in BLPOP: claim it now.
  for _, d in ipairs(devices) do
    local expiry = redis.call('ZSCORE', d.holders, token)
    if expiry and tonumber(expiry) > now then
      local holder = cjson.decode(redis.call('HGET', d.info, token))
      expiry = math.min(now + ttl_ms, holder.lock_deadline_ms)
      redis.call('ZADD', d.holders, 'XX', expiry, token)
      redis.call('DEL', WAKE_PREFIX .. waiter)
      return string.format('2 %d %d %d %d %d', d.index, holder.fencing_token, expiry, now, holder.since_ms)
    end
  end
  enqueue()
end

local out = nil
for _, d in ipairs(devices) do
  local dropped, held = purge_holders(d, now, KEYS[4])
  local owed, waiting = false, false
  d.free = d.capacity - held
  -- A newcomer reads a device's queue only when this purge freed units (which go to the queue first) or
  -- someone holds the device: the script that freed its last units served every live waiter that fits it,
  -- so an unheld device has none (the uncontended path skips the read). A device whose queue keeps a live
  -- waiter after being served is closed to newcomers.
  if seq > 0 or dropped > 0 or (held > 0 and redis.call('EXISTS', d.waiters) == 1) then
    d.free, owed, waiting = fill(g, d, d.free, now, out == nil and seq > 0 and waiter or nil, amount)
  end
  d.open = not waiting
  if owed then
    out = take(d)
    d.free = fill(g, d, d.free - amount, now, nil, amount)
  end
end
if out then
  return out
end

if seq == 0 then
  local best = nil
  for _, d in ipairs(devices) do
    if d.open and d.free >= amount and (best == nil or d.free > best.free) then
      best = d
    end
  end
  if best then
    return take(best)
  end
  seq = redis.call('INCR', KEYS[1])
  enqueue()
end
local next_expiry = 0
for _, d in ipairs(devices) do -- read after the hand-overs above, whose claim windows may end first
  local first = redis.call('ZRANGE', d.holders, 0, 0, 'WITHSCORES')[2]
  if first and (next_expiry == 0 or tonumber(first) < next_expiry) then
    next_expiry = tonumber(first)
  end
end
return string.format('0 %d %d %d', seq, next_expiry, now)
