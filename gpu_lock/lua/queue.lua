-- queue.lua: what only contention needs: purging expired leases, the waiter queues and hand-overs.
-- Included by a script's `-- include: queue` line (see lib.lua), after lib.lua's helpers.

-- Histogram bucket bounds in seconds (Prometheus `le`). Each bucket field counts only the
-- observations that fall into it; readers cumulate them. The sum is kept in integer ms.
local BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

local function observe(stats, name, ms)
  local le = '+Inf'
  for _, bound in ipairs(BUCKETS) do
    if ms <= bound * 1000 then
      le = tostring(bound)
      break
    end
  end
  redis.call('HINCRBY', stats, name .. '_bucket:' .. le, 1)
  if ms ~= 0 then -- an uncontended grant waits 0 ms: one call fewer on the fast path
    redis.call('HINCRBY', stats, name .. '_ms_sum', ms)
  end
end

-- Drop a device's expired leases, recording each as expired (counted, and an 'expired' lease event on the
-- events stream with the holder it had). Returns how many were dropped, the sum of the amounts the valid
-- leases hold, and the earliest remaining expiry ms (0: none).
local function purge_holders(d, now, events)
  local all = redis.call('ZRANGE', d.holders, 0, -1, 'WITHSCORES')
  local dropped, held, first = 0, 0, 0
  for i = 1, #all, 2 do
    local expiry = tonumber(all[i + 1])
    local token = all[i]
    if expiry > now then
      if first == 0 then
        first = expiry
      end
      held = held + amount_of(token)
    else
      local raw = redis.call('HGET', d.info, token)
      if raw then
        observe(d.stats, 'hold_seconds', expiry - cjson.decode(raw).since_ms)
        redis.call('HDEL', d.info, token)
      end
      redis.call('ZREM', d.holders, token)
      redis.call('HINCRBY', d.stats, 'expired_total', 1)
      emit_lease(events, 'action', 'expired', 'device', d.index, 'holder', raw or '{}', 'expired_at_ms', expiry)
      dropped = dropped + 1
    end
  end
  return dropped, held, first
end

-- Return a device from its keys: holders (zset token -> expiry ms), holder info (hash token -> JSON),
-- stats (hash) and waiters (zset id -> seq).
local function device(index, capacity, holders, info, stats, waiters)
  return {index = tonumber(index), capacity = tonumber(capacity), holders = holders, info = info, stats = stats,
          waiters = waiters}
end

-- Return what a script needs to hand freed slots over: the fencing counter, the waiter deadlines and
-- info, every device's queue (KEYS[first_queue..]), the claim window ms and the events stream.
local function grant_context(fencing, deadlines, winfo, first_queue, claim_ms, events)
  local queues = {}
  for i = first_queue, #KEYS do
    queues[#queues + 1] = KEYS[i]
  end
  return {fencing = fencing, deadlines = deadlines, winfo = winfo, queues = queues, claim_ms = tonumber(claim_ms),
          events = events}
end

-- Take waiter `w` out of every queue and the waiter index. Where it stood first in a queue other than
-- `served` (the queue of the device it was just granted, which the caller serves itself), the new first
-- waiter of that queue may fit where `w` did not: its wake list gets 'retry', so it tries again at once.
local function unqueue(g, w, served)
  for _, q in ipairs(g.queues) do
    if served ~= nil and q ~= served and redis.call('ZRANGE', q, 0, 0)[1] == w then
      redis.call('ZREM', q, w)
      local next_first = redis.call('ZRANGE', q, 0, 0)[1]
      if next_first then
        local wake = WAKE_PREFIX .. next_first
        redis.call('LPUSH', wake, 'retry')
        redis.call('PEXPIRE', wake, WAKE_TTL_MS)
      end
    else
      redis.call('ZREM', q, w)
    end
  end
  redis.call('ZREM', g.deadlines, w)
  redis.call('HDEL', g.winfo, w)
end

-- Hand `waiter.amount` of device `d` to queued waiter `w` (its decoded info): it becomes a holder for the
-- claim window (its first renew, or its own next try, extends that to a full TTL), leaves every queue, and
-- its wake list gets "device fencing expiry granted_ms", which its BLPOP returns as the grant. The list name
-- comes from the queue member, so it cannot be declared in KEYS: this needs a single Redis instance, not
-- Cluster.
local function hand_over(g, d, w, waiter, now)
  local fencing = redis.call('INCR', g.fencing)
  local lock_deadline = now + waiter.lock_timeout_ms
  local expiry = math.min(now + g.claim_ms, lock_deadline)
  local owner = cjson.encode({task_id = waiter.task_id, task_name = waiter.task_name, host = waiter.host,
                              pid = waiter.pid, memory_mb = waiter.memory_mb or 0})
  local waited = now - waiter.since_ms
  redis.call('ZADD', d.holders, expiry, waiter.token)
  redis.call('HSET', d.info, waiter.token, holder_json(owner, now, fencing, lock_deadline, waited))
  observe(d.stats, 'wait_seconds', waited)
  unqueue(g, w, d.waiters)
  local wake = WAKE_PREFIX .. w
  redis.call('DEL', wake)
  redis.call('LPUSH', wake, string.format('%d %d %d %d', d.index, fencing, expiry, now))
  redis.call('PEXPIRE', wake, WAKE_TTL_MS)
  emit_lease(g.events, 'action', 'granted', 'device', d.index, 'fencing_token', fencing, 'owner', owner,
             'amount', amount_of(waiter.token))
end

-- Serve device `d`'s queue with `free` units, strictly first come, first served: the first live waiter
-- gets its amount when it fits, and then the next; the first one that does not fit stops the queue, so a
-- big request at the head is never passed by smaller ones behind it (no backfilling). A waiter asking
-- more than the device's whole capacity (it shrank since the waiter queued) is skipped, never served here.
-- Dead waiters (deadline passed, or already dropped by another script) are dropped on the way. Stops at
-- `caller` (the queued waiter running this script, or nil), which takes its share itself when it fits.
-- Returns the units still free, whether the caller is owed its share, and whether a live waiter is left
-- in the queue (then no newcomer may take from this device).
local function fill(g, d, free, now, caller, caller_amount)
  for _, w in ipairs(redis.call('ZRANGE', d.waiters, 0, -1)) do
    local deadline = redis.call('ZSCORE', g.deadlines, w)
    local raw = deadline and tonumber(deadline) > now and redis.call('HGET', g.winfo, w)
    if raw then
      local amount = caller_amount
      local waiter = nil
      if w ~= caller then
        waiter = cjson.decode(raw)
        amount = amount_of(waiter.token)
      end
      if amount <= d.capacity then
        if amount > free then
          return free, false, true
        end
        if w == caller then
          return free, true, true
        end
        hand_over(g, d, w, waiter, now)
        free = free - amount
      end
    else
      redis.call('ZREM', d.waiters, w)
      if deadline then
        redis.call('ZREM', g.deadlines, w)
        redis.call('HDEL', g.winfo, w)
      end
    end
  end
  return free, false, false
end
