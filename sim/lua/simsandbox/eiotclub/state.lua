--- EIOTCLUB sandbox: the state table and its seed (fixtures in sim/EIOTCLUB.md).
--
-- One table `S`, shared by the handler modules; `S.reset(now)` empties and
-- refills it in place (the sandbox runs one nginx worker, so module-level
-- tables are the state).
local C = require "simsandbox.eiotclub.common"

local floor = math.floor
local format = string.format
local pairs = pairs

local S = {}

local GIB = 1073741824
local MB = C.MB
local DAY = C.DAY

S.APPKEY = "sandbox-appkey"
S.SECRET = "sandbox-secret"

----------------------------------------------------------------------------
-- static catalog

local function zone(name, key, countries)
  local z = { name = name, img = "https://sandbox.eiotclub.invalid/img/zone-" .. key .. ".png", countries = {} }
  for _, c in ipairs(countries) do
    local ops = {}
    for i = 2, #c, 2 do ops[#ops + 1] = { name = c[i], networkType = c[i + 1] } end
    z.countries[#z.countries + 1] = {
      name = c[1], img = "https://sandbox.eiotclub.invalid/img/flag-" .. c[1]:lower():gsub("%s", "-") .. ".png",
      operators = ops,
    }
  end
  return z
end

local ZONES = {
  na = zone("North America", "na", {
    { "United States", "AT&T", "4G/5G", "T-Mobile", "5G", "Verizon", "4G" },
    { "Canada", "Rogers", "4G" },
  }),
  global = zone("Global 120", "global", {
    { "United States", "AT&T", "4G" },
    { "United Kingdom", "Vodafone", "4G" },
    { "Germany", "Telekom", "4G/5G" },
    { "Hong Kong", "CSL", "4G" },
  }),
  eu = zone("Europe 33", "eu", {
    { "Germany", "Telekom", "4G/5G", "Vodafone", "4G" },
    { "France", "Orange", "4G" },
  }),
  jp = zone("Japan", "jp", { { "Japan", "NTT Docomo", "4G/5G", "SoftBank", "4G" } }),
}
S.ZONES = ZONES

-- product code -> { network kind }
local PRODUCTS = {
  ["1US-DN20230407170352"] = { kind = "dual", network = "ALL" },
  ["1US-TN20230607140809"] = { kind = "tri", network = "VAT" },
  ["1US-V3W20240601120000"] = { kind = "tnv3w", network = "all" },
  ["GLB120-20220308161656"] = { kind = "global", network = "" },
  ["ESIM-NA-20240115"] = { kind = "global", network = "" },
  ["ESIM-EU-20240115"] = { kind = "global", network = "" },
  ["ESIM-JP-20240115"] = { kind = "global", network = "" },
}
S.NETWORKS = {
  dual = { "ATT", "TMobile", "ChinaMobile", "ChinaUnicom", "ALL" },
  tri = { "ATT", "TMobile", "Verizon", "VAT" },
  tnv3w = { "USA-AT&T", "USA-TMobile", "USA-Verizon", "China-Mobile", "China-Unicom", "China-Telecom", "all" },
  global = {},
}

-- packages for physical cards: code, name, product, price (US cents),
-- retail price (cents), retail name, listed, type, MB, period size, period type, zone
local PACKAGES = {
  { "GJ-LLB-1G-30-1US-DN", "国际-流量包-1G-30天", "1US-DN20230407170352", 450, 600, "1GB 30day", 1, 2, 1024, 30, 2, "na" },
  { "GJ-LLB-5G-30-1US-DN", "国际-流量包-5G-30天", "1US-DN20230407170352", 1800, 2500, "5GB 30day", 1, 2, 5120, 30, 2, "na" },
  { "GJ-XS-10G-30-1US-DN", "国际-限时限速-10G-30天", "1US-DN20230407170352", 2500, 3200, "10GB 30day capped", 0, 4, 10240, 30, 2, "na" },
  { "GJ-LLB-2G-30-1US-TN", "国际-流量包-2G-30天", "1US-TN20230607140809", 800, 975, "2GB 30day", 1, 2, 2048, 30, 2, "na" },
  { "GJ-LLB-12G-180-1US-TN", "国际-流量包-12G-180天", "1US-TN20230607140809", 4500, 5193, "12GB 180day", 1, 2, 12288, 180, 2, "na" },
  { "GJ-LLB-3G-1M-1US-V3W", "国际-流量包-3G-1月", "1US-V3W20240601120000", 1000, 1300, "3GB 1month", 1, 2, 3072, 1, 1, "na" },
  { "GJ-LLB-100M-7-GLB120", "国际-流量包-100M-7天", "GLB120-20220308161656", 150, 300, "100MB 7day", 1, 2, 100, 7, 2, "global" },
  { "GJ-LLB-3G-30-GLB120", "国际-流量包-3G-30天", "GLB120-20220308161656", 1200, 1500, "3GB 30day", 1, 2, 3072, 30, 2, "global" },
  { "GJ-QT-1G-1-GLB120", "国际-限时流量包-1G-1天", "GLB120-20220308161656", 300, 400, "1GB 1day", 1, 3, 1024, 1, 2, "global" },
  { "ESIM-NA-3G-30-PKG", "eSIM-北美-3G-30天", "ESIM-NA-20240115", 700, 900, "NA 3GB 30day", 1, 2, 3072, 30, 2, "na" },
  { "ESIM-EU-5G-30-PKG", "eSIM-欧洲-5G-30天", "ESIM-EU-20240115", 1200, 1500, "EU 5GB 30day", 1, 2, 5120, 30, 2, "eu" },
  { "ESIM-JP-1G-7-PKG", "eSIM-日本-1G-7天", "ESIM-JP-20240115", 400, 500, "JP 1GB 7day", 1, 2, 1024, 7, 2, "jp" },
}

local ESIM_GOODS = {
  { code = "ESIM-NA-3G-30D", name = "North America eSIM 3GB 30 days", price = 900, stock = 50, package = "ESIM-NA-3G-30-PKG" },
  { code = "ESIM-EU-5G-30D", name = "Europe eSIM 5GB 30 days", price = 1500, stock = 20, package = "ESIM-EU-5G-30-PKG" },
  { code = "ESIM-JP-1G-7D", name = "Japan eSIM 1GB 7 days", price = 500, stock = 0, package = "ESIM-JP-1G-7-PKG" },
}

local CLOUD_PRODUCT = "CLOUDESIM-GLB-20250101"
local CLOUD_PACKAGES = {
  { "CE-GLB-1G-7D", "CloudeSIM-全球-1G-7天", 350, GIB, 7, "global" },
  { "CE-GLB-5G-30D", "CloudeSIM-全球-5G-30天", 1500, 5 * GIB, 30, "global" },
  { "CE-NA-10G-30D", "CloudeSIM-北美-10G-30天", 2400, 10 * GIB, 30, "na" },
}

local POOL_TYPES = {
  { pool_type_code = "POOL-10L-10G-30D", pool_lines = 10, total_active = 30, total_data = 10 * GIB, price = 3000 },
  { pool_type_code = "POOL-50L-100G-30D", pool_lines = 50, total_active = 30, total_data = 100 * GIB, price = 20000 },
}

S.ICCID_PREFIX = "8985201234567890"
S.EID_PREFIX = "890440451167274948000000116037"

----------------------------------------------------------------------------
-- helpers used by the seed and by handlers

local function wipe(t) for k in pairs(t) do t[k] = nil end end

--- Period of a package in seconds (month = 30 days).
function S.period_seconds(p)
  local unit = p.periodType == 1 and 30 * DAY or DAY
  return p.periodSize * unit
end

function S.order_number(id)
  -- a deterministic UUID-shaped order number
  local h = format("%08x", (id * 2654435761) % 4294967296)
  return format("%s-%04x-4%03x-a%03x-%012x", h, id % 65536, id % 4096, (id * 7) % 4096, id * 104729)
end

--- New physical-card order (not yet in any index: use S.add_order).
function S.new_order(card, pkg, fields)
  local o = {
    orderId = S.seq.order, iccid = card.iccid, packageCode = pkg.packageCode,
    state = 0, isRefund = 0, price_cents = pkg.price, currency = S.currency,
    flow_total_bytes = pkg.flowSize * MB, used_bytes = 0, renew = 0,
    salesChannel = "API", alerts = {}, status = 1, refund_cents = 0,
  }
  S.seq.order = S.seq.order + 1
  o.orderNumber = S.order_number(o.orderId)
  for k, v in pairs(fields or {}) do o[k] = v end
  return o
end

function S.add_order(o)
  S.orders[o.orderId] = o
  S.order_list[#S.order_list + 1] = o
  -- per card, in the same (creation) order: card views stay O(orders of the card)
  local mine = S.orders_by_iccid[o.iccid]
  if not mine then mine = {}; S.orders_by_iccid[o.iccid] = mine end
  mine[#mine + 1] = o
  S.orders_by_number[o.orderNumber] = o
  if o.outTradeNo and o.outTradeNo ~= "" then S.orders_by_otn[o.outTradeNo] = o end
  local card = S.cards[o.iccid]
  if card then card.ordered = true end
end

function S.new_cloud_order(ce, pkg, fields)
  local o = {
    eshopOrderId = S.seq.cloud_order, eid = ce.eid, packageCode = pkg.packageCode,
    state = 0, isRefund = 0, price_cents = pkg.price, currency = S.currency,
    flow_total_bytes = pkg.flowSizeBytes, used_bytes = 0, renew = 0, status = 2,
    salesChannel = "API", alerts = {}, refund_cents = 0,
  }
  S.seq.cloud_order = S.seq.cloud_order + 1
  o.orderId = format("CE%d", o.eshopOrderId)
  for k, v in pairs(fields or {}) do o[k] = v end
  return o
end

function S.add_cloud_order(o)
  S.cloud_orders[o.eshopOrderId] = o
  S.cloud_orders_by_id[o.orderId] = o
  S.cloud_order_list[#S.cloud_order_list + 1] = o
  if o.outTradeNo and o.outTradeNo ~= "" then S.cloud_orders_by_otn[o.outTradeNo] = o end
end

--- Add a physical card record.
function S.add_card(c)
  S.cards[c.iccid] = c
  S.card_list[#S.card_list + 1] = c
  S.cards_by_imsi[c.imsi] = c
end

local function new_card(n, product, status, now, extra)
  local c = {
    iccid = format("%s%04d", S.ICCID_PREFIX, n),
    imsi = format("4541234567890%02d", n),
    msisdn = format("85255500%03d", n),
    productCode = product, status = status,
    activateDate = nil, isRealName = 0, imei = "", eid = "", remark = "",
    network = PRODUCTS[product].network,
    plockGroupId = nil, imeiPoolStatus = 0, imeiPoolUnlockCount = 0,
    pool_id = nil, total_used_bytes = 0, ordered = false,
  }
  if status ~= "ACTIVATION_READY_NAME" and status ~= "NON_ACTIVATED_NAME" then
    c.activateDate = now - (200 - n * 10) * DAY
    c.isRealName = 1
  end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

----------------------------------------------------------------------------
-- reset

local function seed_catalog()
  for code, p in pairs(PRODUCTS) do S.products[code] = { productCode = code, kind = p.kind } end
  for _, r in ipairs(PACKAGES) do
    local p = {
      packageCode = r[1], packageName = r[2], productCode = r[3], price = r[4],
      gzhPrice = r[5], gzhPackageName = r[6], gzhStatus = r[7], packageType = r[8],
      flowSize = r[9], periodSize = r[10], periodType = r[11], zone = ZONES[r[12]],
      operator = 5,
    }
    S.packages[p.packageCode] = p
    S.package_list[#S.package_list + 1] = p
  end
  for _, g in ipairs(ESIM_GOODS) do
    S.esim_goods[#S.esim_goods + 1] = { code = g.code, name = g.name, price = g.price,
      stock = g.stock, packageCode = g.package }
  end
  for _, r in ipairs(CLOUD_PACKAGES) do
    local p = {
      packageCode = r[1], packageName = r[2], productCode = CLOUD_PRODUCT, price = r[3],
      flowSizeBytes = r[4], packageType = 2, periodSize = r[5], periodType = 2, zone = ZONES[r[6]],
    }
    S.cloud_packages[p.packageCode] = p
    S.cloud_package_list[#S.cloud_package_list + 1] = p
  end
  for _, t in ipairs(POOL_TYPES) do
    local copy = {}
    for k, v in pairs(t) do copy[k] = v end
    S.pool_types[t.pool_type_code] = copy
    S.pool_type_list[#S.pool_type_list + 1] = copy
  end
end

-- an order placed `ago` days before now; `started` days ago it took effect
local function seed_order(card, code, ago, fields, now)
  local pkg = S.packages[code]
  local o = S.new_order(card, pkg, fields)
  o.createDate = now - ago * DAY
  o.updateDate = o.createDate
  if o.state >= 1 then
    o.startDate = o.started and now - o.started * DAY or o.createDate
    o.endDate = o.startDate + S.period_seconds(pkg)
    o.updateDate = o.startDate
    o.started = nil
  end
  if o.used_mb then
    o.used_bytes = floor(o.used_mb * MB)
    o.used_mb = nil
  end
  card.total_used_bytes = card.total_used_bytes + o.used_bytes
  S.add_order(o)
  return o
end

local function seed_cards(now)
  local DN, TN, V3W, GLB = "1US-DN20230407170352", "1US-TN20230607140809",
    "1US-V3W20240601120000", "GLB120-20220308161656"
  local A = "ACTIVATED_NAME"
  local cards = {
    new_card(1, DN, A, now, { imei = "860000000000011" }),
    new_card(2, DN, A, now, { imei = "860000000000021" }),
    new_card(3, TN, A, now, { imei = "860000000000031", pool_id = 380 }),
    new_card(4, TN, A, now, { pool_id = 380 }),
    new_card(5, V3W, A, now, { imei = "860000000000051", plockGroupId = 3001,
      imeiPoolStatus = 1, imeiPoolUnlockCount = 1 }),
    new_card(6, GLB, A, now, { imei = "860000000000061", plockGroupId = 3001 }),
    new_card(7, GLB, A, now, { imei = "860000000000071" }),
    new_card(8, DN, A, now, { remark = "expiring soon" }),
    new_card(9, GLB, "ACTIVATION_READY_NAME", now),
    new_card(10, DN, "NON_ACTIVATED_NAME", now),
    new_card(11, GLB, "DEACTIVATED_NAME", now, { imei = "860000000000111" }),
    new_card(12, TN, "RETIRED_NAME", now),
  }
  for _, c in ipairs(cards) do S.add_card(c) end
  local by = function(n) return cards[n] end
  -- card 1: an old used-up order, then the current 5G
  seed_order(by(1), "GJ-LLB-1G-30-1US-DN", 60, { state = 2, started = 60, used_mb = 1024,
    outTradeNo = "SEED-0001-A", salesChannel = "API" }, now)
  seed_order(by(1), "GJ-LLB-5G-30-1US-DN", 10, { state = 1, started = 10, used_mb = 1234.56,
    outTradeNo = "SEED-0001-B" }, now)
  -- card 2: current 1G, a pending 1G behind it, and a refunded order
  seed_order(by(2), "GJ-LLB-1G-30-1US-DN", 40, { state = 2, isRefund = 1, status = -1,
    started = 40, used_mb = 10, outTradeNo = "SEED-0002-R", refund_cents = 450 }, now)
  seed_order(by(2), "GJ-LLB-1G-30-1US-DN", 5, { state = 1, started = 5, used_mb = 300,
    outTradeNo = "SEED-0002-A" }, now)
  seed_order(by(2), "GJ-LLB-1G-30-1US-DN", 2, { state = 0, outTradeNo = "SEED-0002-B" }, now)
  seed_order(by(3), "GJ-LLB-2G-30-1US-TN", 12, { state = 1, started = 12, used_mb = 512,
    salesChannel = "USER" }, now)
  seed_order(by(4), "GJ-LLB-2G-30-1US-TN", 3, { state = 1, started = 3, used_mb = 0,
    salesChannel = "PLATFORM" }, now)
  seed_order(by(5), "GJ-LLB-3G-1M-1US-V3W", 8, { state = 1, started = 8, used_mb = 700,
    outTradeNo = "SEED-0005-A" }, now)
  seed_order(by(6), "GJ-LLB-3G-30-GLB120", 4, { state = 1, started = 4, used_mb = 100,
    outTradeNo = "SEED-0006-A" }, now)
  -- card 7: 100M pack, 95 MB used, 6 days left -> warnings 1, 2 and 3
  seed_order(by(7), "GJ-LLB-100M-7-GLB120", 1, { state = 1, started = 1, used_mb = 95,
    outTradeNo = "SEED-0007-A", alerts = { [1] = true, [2] = true } }, now)
  -- card 8: 1G, 200 MB used, 5 days left -> warning 3
  seed_order(by(8), "GJ-LLB-1G-30-1US-DN", 25, { state = 1, started = 25, used_mb = 200,
    outTradeNo = "SEED-0008-A" }, now)
  -- card 11: used up, card stopped
  seed_order(by(11), "GJ-LLB-100M-7-GLB120", 30, { state = 2, started = 30, used_mb = 100,
    outTradeNo = "SEED-0011-A", alerts = { [1] = true, [2] = true } }, now)
end

S.FLEET_ICCID_PREFIX = "898520123456780" -- + 5 digits: generated cards (/_sim/config {cards=N})

--- `n` generated cards (fleet scale): every 20th ready to activate, every
-- 20th deactivated, the others activated with a 1G package in use
-- (deterministic use) and, every 7th, a second one waiting to start.
local function seed_fleet(now, n)
  local DN = "1US-DN20230407170352"
  for i = 1, n do
    local status = (i % 20 == 0) and "ACTIVATION_READY_NAME" or ((i % 20 == 1) and "DEACTIVATED_NAME" or "ACTIVATED_NAME")
    local c = new_card(1, DN, status, now, {
      iccid = format("%s%05d", S.FLEET_ICCID_PREFIX, i),
      imsi = format("45412346%07d", i), msisdn = format("8525%07d", i),
      imei = status == "ACTIVATED_NAME" and format("86100%010d", i) or "",
    })
    if status ~= "ACTIVATION_READY_NAME" then c.activateDate = now - (30 + i % 300) * DAY end
    S.add_card(c)
    if status == "ACTIVATED_NAME" then
      seed_order(c, "GJ-LLB-1G-30-1US-DN", 1 + i % 25, { state = 1, started = 1 + i % 25,
        used_mb = (i * 37) % 1024 + (i % 100) / 100 }, now)
      if i % 7 == 0 then seed_order(c, "GJ-LLB-1G-30-1US-DN", 0, { state = 0 }, now) end
    end
  end
end

local function seed_cloud(now)
  local statuses = { "ACTIVATED_NAME", "ACTIVATED_NAME", "ACTIVATION_READY_NAME", "DEACTIVATED_NAME" }
  for i, st in ipairs(statuses) do
    local ce = { eid = format("%s%02d", S.EID_PREFIX, i), status = st, productCode = CLOUD_PRODUCT,
      activateDate = st ~= "ACTIVATION_READY_NAME" and now - (90 - i) * DAY or nil,
      imsi = format("4541298765432%02d", i), imei = "" }
    S.clouds[ce.eid] = ce
    S.cloud_list[#S.cloud_list + 1] = ce
  end
  local function seed(eid, code, ago, used, state, otn)
    local ce, pkg = S.clouds[eid], S.cloud_packages[code]
    local o = S.new_cloud_order(ce, pkg, { state = state, outTradeNo = otn })
    o.createDate = now - ago * DAY
    o.startDate = o.createDate
    o.endDate = o.startDate + pkg.periodSize * DAY
    o.updateDate = o.createDate
    o.used_bytes = used
    if state == 2 then o.alerts = { [1] = true, [2] = true } end
    S.add_cloud_order(o)
  end
  local e = function(i) return format("%s%02d", S.EID_PREFIX, i) end
  seed(e(1), "CE-GLB-5G-30D", 6, floor(1.5 * GIB), 1, "SEED-CE-0001")
  seed(e(2), "CE-GLB-1G-7D", 2, 1000 * MB, 1, "SEED-CE-0002")
  S.cloud_orders_by_otn["SEED-CE-0002"].alerts = { [2] = true }
  seed(e(4), "CE-GLB-1G-7D", 40, GIB, 2, "SEED-CE-0004")
end

local function seed_pools(now)
  local function pool(id, code, memo, status, ago)
    local t = S.pool_types[code]
    local p = { pool_object_id = id, pool_type_code = code, pool_lines = t.pool_lines, memo = memo,
      status = status, create_at = floor(now - ago * DAY), cards = {}, card_order = {} }
    S.pools[id] = p
    S.pool_list[#S.pool_list + 1] = p
    return p
  end
  local p380 = pool(380, "POOL-10L-10G-30D", "fleet-a", 2, 20)
  pool(387, "POOL-50L-100G-30D", "spare", 1, 2)
  for _, n in ipairs({ 3, 4 }) do
    local iccid = format("%s%04d", S.ICCID_PREFIX, n)
    p380.cards[iccid] = floor(now - 15 * DAY)
    p380.card_order[#p380.card_order + 1] = iccid
  end
  local t = S.pool_types["POOL-10L-10G-30D"]
  local rec = { pool_record_id = S.seq.pool_record, pool_object_id = 380, order_no = "PO2026000001",
    out_trade_no = "SEED-POOL-0001", pool_type_code = t.pool_type_code, status_code = 3,
    active_timestamp = floor(now - 10 * DAY), expire_timestamp = floor(now + 20 * DAY),
    total = t.total_data, used = 2 * GIB, create_at = floor(now - 10 * DAY), price = t.price }
  S.seq.pool_record = S.seq.pool_record + 1
  S.pool_records[#S.pool_records + 1] = rec
  S.pool_records_by_otn[rec.out_trade_no] = rec
  S.pool_records_by_no[rec.order_no] = rec
  S.imei_pools[3001] = { plockGroupId = 3001, imeis = { "860000000000051", "860000000000061" } }
  S.imei_pools[3002] = { plockGroupId = 3002, imeis = {} }
end

local function seed_misc(now)
  S.tasks["9001"] = { id = "9001", fixed = "2", result = "success: 3 cards reset", created = now - DAY }
  S.tasks["9002"] = { id = "9002", fixed = "-2", result = "failed: card status does not allow reset", created = now - DAY }
  S.tasks["9003"] = { id = "9003", fixed = "-1", result = "terminated", created = now - DAY }
  S.task_list = { S.tasks["9001"], S.tasks["9002"], S.tasks["9003"] }
  local profits = {
    { "0001", 10004701, 600, 433.0, "GJ-LLB-1G-30-1US-DN", "1GB 30day", 1, 0, 2, 1 },
    { "0003", 10004706, 975, 175.5, "GJ-LLB-2G-30-1US-TN", "2GB 30day", 1, 0, 2, 2 },
    { "0002", 10004703, 600, 150.0, "GJ-LLB-1G-30-1US-DN", "1GB 30day", 1, 1, 0, 1 },
    { "0006", 10004709, 1500, 300.0, "GJ-LLB-3G-30-GLB120", "3GB 30day", 1, 0, 1, 2 },
    { "0007", 10004710, 300, 150.0, "GJ-LLB-100M-7-GLB120", "100MB 7day", 1, 0, 0, 2 },
    { "0002", 10004702, 600, -150.0, "GJ-LLB-1G-30-1US-DN", "1GB 30day", 2, 0, 2, 1 },
    { "0005", 10004708, 1300, 300.0, "GJ-LLB-3G-1M-1US-V3W", "3GB 1month", 1, 0, 3, 1 },
  }
  for i, r in ipairs(profits) do
    local iccid = S.ICCID_PREFIX .. r[1]
    local pay = r[3] / 100
    S.profits[#S.profits + 1] = {
      id = 1022100 + i, iccid = iccid, msisdn = S.cards[iccid].msisdn, platformId = 5,
      orderId = r[2], incomeMoney = r[4] / 100, actualProfit = r[4] / 100, childProfit = 0,
      company = "*****", type = r[7], createDate = now - (30 - i * 3) * DAY,
      mem = format("【Pkg Sell】,%s,CardNo:%s,IncomeBenefit:%.2f USD", r[6], iccid, r[4] / 100),
      actualPrice = pay, packageUserName = r[6], settleCurrency = "USD", payCurrency = "USD",
      packageCode = r[5], payRate = "1.0000", renew = r[8],
      ifWithdrawDeposit = r[9], withdrawDepositType = r[10],
      productCode = S.packages[r[5]].productCode,
      orderNumber = S.order_number(r[2]),
    }
  end
end

--- Synthetic CDR history: January 2026, four sessions a day per card that is
-- in use (cards 1-8), deterministic sizes.
local function seed_cdrs()
  local jan1 = C.days_from_civil(2026, 1, 1) * DAY
  for day = 0, 30 do
    for _, hour in ipairs({ 0, 6, 12, 18 }) do
      for n = 1, 8 do
        local card = S.cards[format("%s%04d", S.ICCID_PREFIX, n)]
        local start = jan1 + day * DAY + hour * 3600 + (5 + n * 3) * 60
        local bytes = ((n * 7919 + day * 104729 + hour * 31337) % (5 * MB)) + 1024
        S.add_cdr(card, start, start + 20 * 60 + n * 17, bytes, card.imei, n % 2 == 0 and "310410" or "310260")
      end
    end
  end
end

function S.add_cdr(card, start, stop, bytes, imei, mccmnc)
  local r = { id = S.seq.cdr, start = floor(start), stop = floor(stop), iccid = card.iccid or card.eid,
    imsi = card.imsi or "", bytes = floor(bytes), imei = imei or "", mccmnc = mccmnc or "310410" }
  S.seq.cdr = S.seq.cdr + 1
  S.cdrs[#S.cdrs + 1] = r
  return r
end

local TABLES = {
  "products", "packages", "package_list", "esim_goods", "cloud_packages", "cloud_package_list",
  "pool_types", "pool_type_list", "cards", "card_list", "cards_by_imsi", "orders", "order_list", "orders_by_iccid",
  "orders_by_otn", "orders_by_number", "esim_orders", "esim_order_list", "esim_orders_by_otn",
  "clouds", "cloud_list", "cloud_orders", "cloud_orders_by_id", "cloud_order_list",
  "cloud_orders_by_otn", "pools", "pool_list", "pool_records", "pool_records_by_otn",
  "pool_records_by_no", "imei_pools", "tasks", "task_list", "sms", "profits", "cdrs", "guards",
  "nonces", "notifications", "transfers", "cfg",
}

--- Empty the state and load the fixtures, times relative to `now`.
function S.reset(now, fleet_cards)
  now = floor(now)
  for _, name in ipairs(TABLES) do
    if type(S[name]) == "table" then wipe(S[name]) else S[name] = {} end
  end
  S.account_id = 10001
  S.currency = "USD"
  S.balance = 100000 -- cents: "1000.00"
  S.seeded_at = now
  S.last_control, S.last_auth_failure, S.now_hint = nil, nil, now
  S.seq = { order = 10004701, cloud_order = 20001001, esim = 30000001, pool = 388,
    pool_record = 5001, pool_order = 2, task = 9004, sms = 1, cdr = 7300000000001,
    esim_card = 1, notify = 1 }
  local cfg = S.cfg
  cfg.notify_url = nil
  cfg.rate_limit = 20
  cfg.notify_attempts = 3
  cfg.notify_retry_delay = 0.5
  cfg.notify_timeout = 2
  cfg.auto_notify = true
  cfg.skew = 300
  cfg.guard_seconds = 300
  cfg.unlock_limit = 5
  seed_catalog()
  seed_cards(now)
  seed_fleet(now, fleet_cards or 0)
  seed_cloud(now)
  seed_pools(now)
  seed_misc(now)
  seed_cdrs()
end

return S
