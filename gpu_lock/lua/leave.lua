-- KEYS[1] waiter deadlines (zset), KEYS[2] waiter info (hash), KEYS[3] the waiter's wake list,
-- KEYS[4] stats hash that counts the timeout (the requested device's, or the any-device one),
-- KEYS[5] fencing counter, KEYS[6] the live events stream (slots handed on),
-- KEYS[7..] three per device the waiter queued on: holders, holder info, stats;
--   then every device's queue, those the waiter queued on first, in the same order
-- ARGV[1] waiter id, ARGV[2] 1 to count a wait timeout, ARGV[3] claim window ms, ARGV[4] lease token,
-- ARGV[5..] index, capacity per device the waiter queued on, in KEYS order
-- returns 'now_ms leases_handed_on': a lease handed to the waiter that it never claimed (it
--         gave up in the meantime) goes to the next live waiters. Each device the waiter queued on is
--         served again too: on a memory-weighted device the leaver may have stood first without fitting,
--         holding back smaller waiters behind it.

-- include: queue

local now = now_ms()
local waiter, token = ARGV[1], ARGV[4]
local candidates = (#ARGV - 4) / 2
local g = grant_context(KEYS[5], KEYS[1], KEYS[2], 7 + 3 * candidates, ARGV[3], KEYS[6])
unqueue(g, waiter)
redis.call('DEL', KEYS[3])
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[4], 'timeouts_total', 1)
end
local handed_on = 0
for i = 1, candidates do
  local k = 4 + 3 * i
  local d = device(ARGV[3 + 2 * i], ARGV[4 + 2 * i], KEYS[k], KEYS[k + 1], KEYS[k + 2], g.queues[i])
  local expiry = redis.call('ZSCORE', d.holders, token)
  if expiry then
    if tonumber(expiry) > now then -- an expired one is dropped and counted by purge_holders
      local raw = redis.call('HGET', d.info, token)
      redis.call('ZREM', d.holders, token)
      redis.call('HDEL', d.info, token)
      observe(d.stats, 'hold_seconds', now - cjson.decode(raw).since_ms)
    end
    handed_on = handed_on + 1
  end
  local _, held = purge_holders(d, now, g.events)
  fill(g, d, d.capacity - held, now, nil, nil)
end
return string.format('%d %d', now, handed_on)
