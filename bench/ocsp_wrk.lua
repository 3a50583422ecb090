-- ocsp_wrk.lua - wrk load for the OCSP benchmark (bench/ocsp_bench.sh).
-- Environment: OCSP_REQS  file of hex DER OCSPRequests, one per line
--              (bench/mkcerts writes reqs.hex);
--              OCSP_MODE  "post" (default), "get" (RFC 5019 GET form) or
--              "nonce" (POST with a 16-octet RFC 8954 nonce: fresh
--              signature each time).
--              OCSP_PATH  the responder's path: "/ocsp" (default, fleetca)
--              or "" (openssl ocsp answers at "/"); GET appends
--              "/" .. base64.
--              OCSP_GETS  optional: mkcerts' reqs.get, used for GET
--              instead of encoding reqs.hex here.
-- Each wrk thread walks the requests from its own random offset, so the
-- load spreads over every certificate.

local mode = os.getenv("OCSP_MODE") or "post"
local path = os.getenv("OCSP_PATH") or "/ocsp"
local reqs = {}

local function unhex(h)
	return (h:gsub("..", function(c) return string.char(tonumber(c, 16)) end))
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64url(s)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = s:byte(i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for k = 3, 0, -1 do
			local v = math.floor(n / 64 ^ k) % 64
			q[#q + 1] = b64chars:sub(v + 1, v + 1)
		end
		if not b then q[3] = "=" end
		if not c then q[4] = "=" end
		out[#out + 1] = table.concat(q)
	end
	return (table.concat(out):gsub("[+/=]", function(ch)
		return string.format("%%%02X", ch:byte())
	end))
end

-- Adds requestExtensions [2] { nonce } to a short-form DER request
-- (SEQ { SEQ tbs }); every length stays below 128 octets.
local function with_nonce(der)
	local tbs = der:sub(5)
	local nonce = {}
	for i = 1, 16 do nonce[i] = string.char(math.random(0, 255)) end
	-- [2] { SEQ { SEQ { id-pkix-ocsp-nonce, OCTET STRING { OCTET STRING(16) } } } }
	local ext = "\162\35\48\33\48\31\6\9\43\6\1\5\5\7\48\1\2" ..
	    "\4\18\4\16" .. table.concat(nonce)
	tbs = tbs .. ext
	return "\48" .. string.char(#tbs + 2) .. "\48" .. string.char(#tbs) .. tbs
end

function init(args)
	math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
	-- GET: mkcerts' reqs.get already holds the encoded paths (fast to
	-- load for 1,000,000 certificates).
	local gets = os.getenv("OCSP_GETS")
	if mode == "get" and gets then
		local g = assert(io.open(gets, "r"))
		for line in g:lines() do
			reqs[#reqs + 1] = wrk.format("GET",
			    path .. line:sub(6))	-- drop "/ocsp"
		end
		g:close()
		idx = math.random(1, #reqs)
		return
	end
	local f = assert(io.open(os.getenv("OCSP_REQS"), "r"))
	for line in f:lines() do
		local der = unhex(line)
		if mode == "get" then
			reqs[#reqs + 1] = wrk.format("GET", path .. "/" .. b64url(der))
		elseif mode == "nonce" then
			reqs[#reqs + 1] = wrk.format("POST", path == "" and "/" or
			    path, { ["Content-Type"] = "application/ocsp-request" },
			    with_nonce(der))
		else
			reqs[#reqs + 1] = wrk.format("POST", path == "" and "/" or
			    path, { ["Content-Type"] = "application/ocsp-request" },
			    der)
		end
	end
	f:close()
	idx = math.random(1, #reqs)
end

function request()
	idx = idx + 1
	if idx > #reqs then idx = 1 end
	return reqs[idx]
end

function done(summary, latency, requests)
	io.write(string.format("p50_us %d p99_us %d\n",
	    latency:percentile(50), latency:percentile(99)))
end
