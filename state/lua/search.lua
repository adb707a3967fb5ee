-- Select workflows by facets, newest first, for GET /v1/tasks and the bulk actions: walk the narrowest of the
-- given time indexes in the time range, keep the ids present in every other index and whose stage matches.
-- The walk reads at most ARGV[6] entries per call; the reply's cursor goes on from the last one read.
-- KEYS[1..n] time indexes (zsets workflow id -> ms): the one walked is the smallest within the range
-- ARGV[1] lowest score (ms, inclusive; the caller passes max(since, now - ttl) so expired entries are skipped)
-- ARGV[2] highest score (ms, inclusive, or '+inf')
-- ARGV[3] cursor score ('' for none): go on with entries below it, or at it with a lower id
-- ARGV[4] cursor id
-- ARGV[5] how many ids to return at most
-- ARGV[6] how many index entries to read at most
-- ARGV[7] task_name whose stage the status and error type are checked on ('' = each workflow's latest stage)
-- ARGV[8] status the stage must have ('' = any)
-- ARGV[9] error type the stage's error must have ('' = any)
-- ARGV[10] the prefix of the workflow hashes (workflow_state:); each candidate's hash is read, never written
-- returns {ids, next cursor score or false, next cursor id or false}
local low, high = ARGV[1], ARGV[2]
local cursor_score = ARGV[3] ~= '' and tonumber(ARGV[3]) or nil
local cursor_id = ARGV[4]
local limit, scan_max = tonumber(ARGV[5]), tonumber(ARGV[6])
local task_name, status, error_type, prefix = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if cursor_score then
  high = ARGV[3]
end
local walked, smallest = 1, nil
for i = 1, #KEYS do
  local n = redis.call('ZCOUNT', KEYS[i], low, high)
  if not smallest or n < smallest then
    walked, smallest = i, n
  end
end

local function matches(id)
  for i = 1, #KEYS do
    if i ~= walked and not redis.call('ZSCORE', KEYS[i], id) then
      return false
    end
  end
  local key = prefix .. id
  local stage = task_name
  if stage == '' then
    stage = redis.call('HGET', key, 'latest')
    if not stage then
      return false -- expired or purged
    end
  end
  local current = redis.call('HGET', key, 'status:' .. stage)
  if not current or (status ~= '' and current ~= status) then
    return false
  end
  if error_type ~= '' then
    local raw = redis.call('HGET', key, 'stage:' .. stage)
    local record = raw and cjson.decode(raw)
    if not record or type(record.error) ~= 'table' or record.error.type ~= error_type then
      return false
    end
  end
  return true
end

local chunk_size = 200
local found, scanned, offset = {}, 0, 0
local last_score, last_id = false, false
local done = false
while #found < limit and scanned < scan_max do
  local chunk = redis.call('ZREVRANGEBYSCORE', KEYS[walked], high, low, 'WITHSCORES', 'LIMIT', offset, chunk_size)
  offset = offset + #chunk / 2
  local stopped = false
  for j = 1, #chunk, 2 do
    local id, score = chunk[j], chunk[j + 1]
    if not (cursor_score and tonumber(score) == cursor_score and id >= cursor_id) then
      scanned = scanned + 1
      last_score, last_id = score, id
      if matches(id) then
        found[#found + 1] = id
      end
      if #found >= limit or scanned >= scan_max then
        stopped = j + 1 < #chunk or #chunk == chunk_size * 2
        break
      end
    end
  end
  if not stopped and #chunk < chunk_size * 2 then
    done = true
    break
  end
  if stopped then
    break
  end
end
if done then
  return {found, false, false}
end
return {found, last_score, last_id}
