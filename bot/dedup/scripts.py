"""The two Lua scripts of story assignment: one read and one write per article, each atomic.

Kept as Python strings so they ship inside the package. Key names are built by `Keys` in Python
and passed in; the only names composed here are a candidate story's vector and version keys,
from the prefix/suffix pairs the caller passes (so `Keys` stays the one place that names keys).
"""

from __future__ import annotations

# KEYS: copy keys [nc], posting keys [nt], LSH day hashes [nl], document-frequency days [nd]
# ARGV: nc nt nl nd tmin tmax per_term max_candidates max_lsh vec_pre vec_suf ver_pre ver_suf
#       nb bands[nb] terms[...]
# Returns {"copy", story_id, kind} or {"ok", signatures, {id, profile, version}..., df, total}.
READ = """
local nc, nt, nl, nd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tmin, tmax = ARGV[5], ARGV[6]
local per_term, max_cand, max_lsh = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local vec_pre, vec_suf, ver_pre, ver_suf = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local nb = tonumber(ARGV[14])
local bands, terms = {}, {}
for i = 1, nb do bands[i] = ARGV[14 + i] end
for i = 15 + nb, #ARGV do terms[#terms + 1] = ARGV[i] end
for i = 1, nc do
  local id = redis.call('GET', KEYS[i])
  if id then return {'copy', id, string.match(KEYS[i], ':seen:([^:]+):') or 'key'} end
end
local hits, sigs, seen = {}, {}, {}
if nb > 0 then
  for i = 1, nl do
    local key = KEYS[nc + nt + i]
    for _, aid in ipairs(redis.call('HMGET', key, unpack(bands))) do
      if aid and not seen[aid] and #sigs < max_lsh then
        seen[aid] = true
        local record = redis.call('HGET', key, 's:' .. aid)
        if record then
          sigs[#sigs + 1] = record
          local sid = string.match(record, '^([^\\t]*)')
          hits[sid] = (hits[sid] or 0) + 1000
        end
      end
    end
  end
end
for i = 1, nt do
  local key = KEYS[nc + i]
  local ids
  if tmin == '' then
    ids = redis.call('ZREVRANGE', key, 0, per_term - 1)
  else
    ids = redis.call('ZREVRANGEBYSCORE', key, tmax, tmin, 'LIMIT', 0, per_term)
  end
  for _, id in ipairs(ids) do hits[id] = (hits[id] or 0) + 1 end
end
local ranked = {}
for id, n in pairs(hits) do ranked[#ranked + 1] = {id, n} end
table.sort(ranked, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] < b[1]
end)
local cands = {}
for i = 1, math.min(max_cand, #ranked) do
  local id = ranked[i][1]
  local profile = redis.call('GET', vec_pre .. id .. vec_suf)
  if profile then
    cands[#cands + 1] = id
    cands[#cands + 1] = profile
    cands[#cands + 1] = redis.call('GET', ver_pre .. id .. ver_suf) or '1'
  end
end
local df, total = {}, 0
for j = 1, #terms do df[j] = 0 end
if #terms > 0 then
  for i = 1, nd do
    local vals = redis.call('HMGET', KEYS[nc + nt + nl + i], '#n', unpack(terms))
    total = total + (tonumber(vals[1]) or 0)
    for j = 1, #terms do df[j] = df[j] + (tonumber(vals[j + 1]) or 0) end
  end
end
return {'ok', sigs, cands, df, total}
"""

# KEYS: story, vector, version, stories, lsh day, df day, posting keys [nt], copy keys [nc]
# ARGV: 1 expected version (0 = new story), 2 story id, 3 story JSON (new) or member JSON
#       (join), 4 profile JSON, 5 article time or '', 6 updated, 7 first seen, 8 story ttl,
#       9 window, 10 copy-key ttl, 11 postings kept, 12 posting score, 13 nt, 14 nc,
#       15 article id, 16 signature record or '', 17 nb, bands[nb], terms[...] (counted for IDF)
# Returns {"ok", story JSON} or {"conflict"} when the story changed since it was read.
WRITE = """
local expected = tonumber(ARGV[1])
local story_id = ARGV[2]
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if current ~= expected then return {'conflict'} end
local story_json = ARGV[3]
if expected > 0 then
  local raw = redis.call('GET', KEYS[1])
  if not raw then return {'conflict'} end
  local story = cjson.decode(raw)
  table.insert(story.articles, cjson.decode(ARGV[3]))
  story.version = expected + 1
  story.updated = tonumber(ARGV[6])
  if ARGV[5] ~= '' then
    local t = tonumber(ARGV[5])
    if story.time == cjson.null or story.time == nil or t < story.time then story.time = t end
  end
  story_json = cjson.encode(story)
end
local ttl, window, seen_ttl = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local kept, score = tonumber(ARGV[11]), ARGV[12]
local nt, nc = tonumber(ARGV[13]), tonumber(ARGV[14])
redis.call('SET', KEYS[1], story_json, 'EX', ttl)
redis.call('SET', KEYS[2], ARGV[4], 'EX', ttl)
redis.call('SET', KEYS[3], expected + 1, 'EX', ttl)
if expected == 0 then redis.call('ZADD', KEYS[4], ARGV[7], story_id) end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[6]) - ttl)
for i = 1, nt do
  local key = KEYS[6 + i]
  redis.call('ZADD', key, score, story_id)
  redis.call('ZREMRANGEBYRANK', key, 0, -kept - 1)
  redis.call('EXPIRE', key, window)
end
for i = 1, nc do redis.call('SET', KEYS[6 + nt + i], story_id, 'EX', seen_ttl, 'NX') end
local nb = tonumber(ARGV[17])
if ARGV[16] ~= '' then
  redis.call('HSET', KEYS[5], 's:' .. ARGV[15], ARGV[16])
  for i = 1, nb do redis.call('HSET', KEYS[5], ARGV[17 + i], ARGV[15]) end
  redis.call('EXPIRE', KEYS[5], window + 86400)
end
redis.call('HINCRBY', KEYS[6], '#n', 1)
for i = 18 + nb, #ARGV do redis.call('HINCRBY', KEYS[6], ARGV[i], 1) end
redis.call('EXPIRE', KEYS[6], window + 86400)
return {'ok', story_json}
"""
