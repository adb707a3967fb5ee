-- KEYS[1] holders (zset token -> expiry ms), KEYS[2] holder info (hash token -> JSON), KEYS[3] stats (hash),
--   KEYS[4] fencing counter, KEYS[5] waiter deadlines (zset), KEYS[6] waiter info (hash),
--   KEYS[7] force-release log (list of JSON, newest first), KEYS[8] the live events stream,
--   KEYS[9..] every device's queue, this device's first
-- ARGV[1] fencing token, ARGV[2] reason, ARGV[3] device index, ARGV[4] device capacity,
-- ARGV[5] claim window ms, ARGV[6] how many log entries to keep
-- returns 'code now_ms': code 1 when the lease with that fencing token was removed (its slot handed to the
--         first live waiter); 0 when no lease on this device carries it (already released or expired)

-- include: queue

local now = now_ms()
local fencing = tonumber(ARGV[1])
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  local holder = cjson.decode(entries[i + 1])
  if holder.fencing_token == fencing and redis.call('ZSCORE', KEYS[1], entries[i]) then
    redis.call('ZREM', KEYS[1], entries[i])
    redis.call('HDEL', KEYS[2], entries[i])
    redis.call('HINCRBY', KEYS[3], 'force_releases_total', 1)
    observe(KEYS[3], 'hold_seconds', now - holder.since_ms)
    local record = {device = tonumber(ARGV[3]), fencing_token = fencing, reason = ARGV[2], at_ms = now,
                    task_id = holder.task_id, task_name = holder.task_name, host = holder.host,
                    pid = holder.pid, since_ms = holder.since_ms}
    redis.call('LPUSH', KEYS[7], cjson.encode(record))
    redis.call('LTRIM', KEYS[7], 0, tonumber(ARGV[6]) - 1)
    emit_lease(KEYS[8], 'action', 'force_released', 'device', ARGV[3], 'holder', entries[i + 1], 'reason', ARGV[2])
    local d = device(ARGV[3], ARGV[4], KEYS[1], KEYS[2], KEYS[3], KEYS[9])
    local _, held = purge_holders(d, now, KEYS[8])
    fill(grant_context(KEYS[4], KEYS[5], KEYS[6], 9, ARGV[5], KEYS[8]), d, d.capacity - held, now, nil)
    return string.format('1 %d', now)
  end
end
return string.format('0 %d', now)
