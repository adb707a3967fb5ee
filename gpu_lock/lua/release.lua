-- KEYS[1] holders (zset token -> expiry ms), KEYS[2] holder info (hash token -> JSON), KEYS[3] stats (hash),
--   KEYS[4] fencing counter, KEYS[5] waiter deadlines (zset), KEYS[6] waiter info (hash),
--   KEYS[7] the live events stream, KEYS[8..] every device's queue (zset id -> seq), this device's first
-- ARGV[1] lease token, ARGV[2] the device,
--   space-separated integers: index, capacity, claim window ms (one argument: each costs client and server)
-- returns 'code now_ms' (one string parses faster than an array on the client), code 1 when released;
--         -3 when the lease had already expired (it is dropped and counted as expired); -2 when the token
--         holds no lease here.
-- The client counts a release (code 1) in the hold histogram (gpu_lock/lease_figures.py); releases_total =
-- its count - expired_total - force_releases_total.
-- Only the caller's own token is ever removed: another holder's lease is untouched. The freed slot goes
-- straight to the first live waiter (hand_over in queue.lua), whose BLPOP returns it as its grant.
-- A release that finds its lease live and no queue on the device returns before queue.lua is included.

local now = now_ms()
local token = ARGV[1]
local score = redis.call('ZSCORE', KEYS[1], token)
if not score then
  return string.format('-2 %d', now)
end
local index, capacity, claim_ms = string.match(ARGV[2], '(%S+) (%S+) (%S+)')
local code = -3
if tonumber(score) > now then
  code = 1
  emit_lease(KEYS[7], 'action', 'released', 'device', index, 'holder', redis.call('HGET', KEYS[2], token) or '{}')
  redis.call('ZREM', KEYS[1], token)
  redis.call('HDEL', KEYS[2], token)
  -- Without waiters there is nobody to hand a slot to: expired leases can wait for the next acquire.
  if redis.call('EXISTS', KEYS[8]) == 0 then
    return string.format('1 %d', now)
  end
end

-- include: queue

local d = device(index, capacity, KEYS[1], KEYS[2], KEYS[3], KEYS[8])
local _, held = purge_holders(d, now, KEYS[7])
fill(grant_context(KEYS[4], KEYS[5], KEYS[6], 8, claim_ms, KEYS[7]), d, d.capacity - held, now, nil)
return string.format('%d %d', code, now)
