-- Remember a new txId record (called by BillrunStore.create beside it): written only if the
-- txId is not taken, with its TTL in the same call, so a record never lives without one.
local record_key = KEYS[1]        -- stripay:billrun:<txId>; hash of the transaction
local ttl_s = tonumber(ARGV[1])   -- how long the record is kept
local fields_from = 2             -- ARGV from here on: field, value, field, value, ...

if redis.call('EXISTS', record_key) == 1 then return 0 end
redis.call('HSET', record_key, unpack(ARGV, fields_from))
redis.call('EXPIRE', record_key, ttl_s)
return 1
