-- lib.lua: the cheap helpers and constants shared by every gpu_lock script. gpu_lock/scripts.py prepends
-- this file to each script before registering it, so it has no KEYS or ARGV of its own and returns nothing.
-- What only contention needs (purging, queues, hand-overs) is in queue.lua, which a script includes with a
-- `-- include: queue` line: acquire and release include it after their uncontended fast path, so an
-- uncontended call never builds those closures (about 4 us of server time per call). The uncontended paths
-- keep no histogram either: the lock's client counts their waits and holds (gpu_lock/lease_figures.py).
-- Times are integer milliseconds from the server's TIME.

-- The live events stream's approximate cap (config.keys.EVENTS_KEPT; a test keeps the two equal).
local EVENTS_KEPT = 10000

-- Add one lease event (field, value, ...) to the live events stream; the caller passes the stream's key.
local function emit_lease(stream, ...)
  redis.call('XADD', stream, 'MAXLEN', '~', EVENTS_KEPT, '*', 'type', 'lease', ...)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- How much of its device a lease token holds: the integer after its last '.', in the device's units
-- (MiB on memory-weighted devices, 1 on slot-counted ones); a token without one holds 1.
local function amount_of(token)
  return tonumber(string.match(token, '%.(%d+)$')) or 1
end

-- Return the holder info JSON: the owner's fields (a JSON object) plus the grant's.
local function holder_json(owner_json, now, fencing, lock_deadline, waited_ms)
  return string.sub(owner_json, 1, -2) .. string.format(
    ',"since_ms":%d,"fencing_token":%d,"lock_deadline_ms":%d,"waited_ms":%d}', now, fencing, lock_deadline, waited_ms)
end

-- Wake lists are named from waiter ids (see hand_over in queue.lua).
local WAKE_PREFIX = 'gpu_lock:wake:'
local WAKE_TTL_MS = 60000

