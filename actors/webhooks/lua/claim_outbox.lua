-- Claim the webhook outbox entries that are due: each claimed entry is hidden from other dispatchers
-- until the claim times out, so a dispatcher that dies before enqueueing leaves it for the next one.
-- KEYS[1] webhook outbox (zset entry -> ms at which it is due)
-- ARGV[1] claim timeout in ms
-- ARGV[2] most entries to claim
-- returns the claimed entries, oldest first
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[2]))
for _, entry in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', now_ms + tonumber(ARGV[1]), entry)
end
return due
