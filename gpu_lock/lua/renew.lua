-- KEYS[1] holders (zset token -> expiry ms), KEYS[2] holder info (hash token -> JSON), KEYS[3] stats (hash)
-- ARGV[1] lease token, ARGV[2] lease ttl ms
-- returns '1 new_expiry_ms now_ms' when renewed; '-2' when the token holds no lease here (released,
--         purged after expiry, or force-released); '-3' when the lease expired (nothing is changed);
--         '-4' when the holder has kept the lease for lock_timeout: refused, so the lease runs out.
-- The new expiry never passes the lease's lock deadline (acquired + lock_timeout).

local now = now_ms()
local token = ARGV[1]
local score = redis.call('ZSCORE', KEYS[1], token)
if not score then
  return '-2'
end
local raw = redis.call('HGET', KEYS[2], token)
if not raw then
  return '-2'
end
local holder = cjson.decode(raw)
if now >= holder.lock_deadline_ms then
  redis.call('HINCRBY', KEYS[3], 'lock_timeouts_total', 1)
  return '-4'
end
if tonumber(score) <= now then
  return '-3'
end
local expiry = math.min(now + tonumber(ARGV[2]), holder.lock_deadline_ms)
redis.call('ZADD', KEYS[1], 'XX', expiry, token)
return string.format('1 %d %d', expiry, now)
