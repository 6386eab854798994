-- Store an order state if it is newer than the stored one (run by shared/order_store.py, whose
-- docstring explains the same-second rule). State, history entry, transitions stream entry and
-- (when job_id is given) the delivery job are written together. An older updatedAt never
-- overwrites the stored state; an equal updatedAt with another status is applied only when its
-- API read began after the stored state's read had ended, and is otherwise a 'tie' (read again).
-- The delivery job's fields come from shared/jobs.py (delivery_job_fields).
-- When a cache key is given, the API's answer is also written to the answer cache (shared/keys.py
-- api_cache_key; read by worker/fetch.py) whatever the outcome, in the same round trip.
local order_key = KEYS[1]         -- stripay:order:<id>; hash of the current state
local history_key = KEYS[2]       -- stripay:history:<id>; list of transitions (JSON)
local transitions_key = KEYS[3]   -- stripay:transitions stream
local job_key = KEYS[4]           -- rq:job:<job id> of the delivery job ("-" when none)
local queue_key = KEYS[5]         -- rq:queue:stripay
local queues_set = KEYS[6]        -- rq:queues
local fetch_seq_key = KEYS[7]     -- stripay:fetchseq:<id>; numbers the API reads of the order
local cache_key = KEYS[8]         -- stripay:apicache:<merchant>:<id>, the answer cache ("-" when none)
local updated_ms = ARGV[1]        -- the candidate's updatedAt in epoch milliseconds
local status = ARGV[2]
local state_json = ARGV[3]        -- the API's order as JSON
local source = ARGV[4]            -- what brought the state (notify, poll, sweep, return)
local applied_at = ARGV[5]
local event_id = ARGV[6]
local order_id = ARGV[7]
local updated_at = ARGV[8]        -- the candidate's updatedAt as Stripay wrote it
local transitions_max_len = ARGV[9]
local merchant = ARGV[10]         -- the candidate's merchantId, '' when the API gave none
local fetch_seq = tonumber(ARGV[11])  -- the number of the read that gave the candidate; nil when unknown
local fetch_seq_text = ARGV[11]   -- the same number as sent, for the answer cache entry
local cache_ttl_ms = ARGV[12]     -- how long the answer cache entry lives, in milliseconds
local job_id = ARGV[13]           -- delivery job id, '' for none; its hash fields are ARGV[14..]
local job_fields_from = 14

-- The answer cache entry, written before any outcome returns (also stale, tie, foreign), as
-- worker/fetch.py reads it: {"order": <the API's order>, "seq": <the number of its read>}.
if cache_key ~= '-' and fetch_seq then
  redis.call('SET', cache_key, '{"order":' .. state_json .. ',"seq":' .. fetch_seq_text .. '}', 'PX', cache_ttl_ms)
end

local new_ms = tonumber(updated_ms)
local current = redis.call('HMGET', order_key, 'updated_ms', 'status', 'merchant_id', 'fetch_done')
local cur_ms = tonumber(current[1])
local cur_status = current[2]
local cur_merchant = current[3]
if cur_ms and cur_merchant and cur_merchant ~= '' and merchant ~= '' and cur_merchant ~= merchant then
  return {'foreign', cur_status}
end
local reads_begun = tonumber(redis.call('GET', fetch_seq_key) or '0')
if cur_ms then
  if new_ms < cur_ms then return {'stale', cur_status} end
  if new_ms == cur_ms then
    if cur_status == status then return {'unchanged', cur_status} end
    -- Reads numbered above fetch_done began after the stored state's read had ended.
    local done = tonumber(current[4] or '0')
    if reads_begun < done then done = 0 end  -- the counter expired and restarted long after that read
    if not fetch_seq or fetch_seq <= done then return {'tie', cur_status} end
  end
end
redis.call('HSET', order_key, 'updated_ms', updated_ms, 'status', status, 'updated_at', updated_at,
           'state', state_json, 'source', source, 'applied_at', applied_at, 'order_id', order_id,
           'merchant_id', merchant, 'fetch_done', reads_begun)
local from = cur_status or ''
if from == status then return {'updated', from} end
local entry = cjson.encode({['from'] = (cur_status or cjson.null), ['to'] = status,
                            ['at'] = updated_at, ['source'] = source, ['event_id'] = event_id})
redis.call('RPUSH', history_key, entry)
redis.call('XADD', transitions_key, 'MAXLEN', '~', transitions_max_len, '*',
           'event_id', event_id, 'order_id', order_id, 'from', from, 'to', status,
           'at', updated_at, 'source', source, 'applied_at', applied_at, 'order', state_json)
if job_id ~= '' then
  redis.call('HSET', job_key, unpack(ARGV, job_fields_from))
  redis.call('RPUSH', queue_key, job_id)
  redis.call('SADD', queues_set, queue_key)
end
return {'applied', from}
