-- Drop a search facet index none of whose entries is younger than the record TTL (its last write is older):
-- every workflow it listed has expired. A facet written again since it was read is kept.
-- KEYS[1] the facets' registry (zset facet index key -> ms of its last write)
-- KEYS[2] the facet index
-- ARGV[1] the horizon (now - ttl, ms)
-- returns 1 when dropped, else 0
local last = redis.call('ZSCORE', KEYS[1], KEYS[2])
if last and tonumber(last) > tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], KEYS[2])
return 1
