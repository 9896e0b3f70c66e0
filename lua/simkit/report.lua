--- The fleet report: one self-contained HTML page (inline CSS and SVG, no
-- script, no font or image from the network) built from a plain data model,
-- so it can be filled from `simkit.fleet`, the rules' audit log and the
-- store, or from a JSON file.
--
-- The model (every part optional):
--     { title = "...", now = epoch seconds,
--       cards = { fleet cards: { vendor, iccid, status, pool, usage = { used_mb, limit_mb, left_mb } } },
--       pools = { fleet pools: { vendor, id, name, used_mb, limit_mb, left_mb, cards } },
--       history = { [iccid] = { { time = epoch, used_mb = n }, ... } },   -- usage snapshots
--       audit = { audit lines: { time, rule, iccid, vendor, decision, action, key, error } },
--       orders = { { time, iccid, vendor, package, cost, currency, order_id, status } } }
-- @module simkit.report
local errors = require "simkit.errors"

local M = {}

local DAY = 86400

local function esc(s)
  return (tostring(s == nil and "" or s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;" }))
end
M.escape = esc

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

local function mb(v)
  if not finite(v) then return "—" end
  local a = math.abs(v)
  if a >= 1048576 then return string.format("%.2f TB", v / 1048576) end
  if a >= 1024 then return string.format("%.2f GB", v / 1024) end
  if a >= 100 then return string.format("%.0f MB", v) end
  return string.format("%.1f MB", v)
end

local function day(t)
  if not finite(t) then return "—" end
  return os.date("!%Y-%m-%d", math.floor(t))
end

-- Check the model's shape: lists where lists are expected.
local function check(model)
  if type(model) ~= "table" then return nil, "the report model must be a table" end
  for _, k in ipairs({ "cards", "pools", "audit", "orders" }) do
    if model[k] ~= nil and type(model[k]) ~= "table" then return nil, "model." .. k .. " must be a list" end
  end
  if model.history ~= nil and type(model.history) ~= "table" then return nil, "model.history must be a table" end
  if model.now ~= nil and not finite(model.now) then return nil, "model.now must be a finite number (epoch seconds)" end
  return true
end

--- Burn rate and projected day a card runs dry, from its usage snapshots.
-- @tparam table card a fleet card
-- @tparam[opt] table snaps `{ { time, used_mb }, ... }`
-- @tparam number now epoch seconds
-- @treturn table|nil `{ rate_mb_day, dry_at }` (`dry_at` = now when already dry), or nil without enough data
function M.projection(card, snaps, now)
  local u = type(card) == "table" and card.usage or nil
  local left = type(u) == "table" and u.left_mb or nil
  if not finite(left) then return nil end
  if left <= 0 then return { rate_mb_day = nil, dry_at = now } end
  if type(snaps) ~= "table" then return nil end
  local pts = {}
  for _, s in ipairs(snaps) do
    if type(s) == "table" and finite(s.time) and finite(s.used_mb) then pts[#pts + 1] = s end
  end
  if #pts < 2 then return nil end
  table.sort(pts, function(a, b) return a.time < b.time end)
  local first, last = pts[1], pts[#pts]
  local span = last.time - first.time
  if span <= 0 then return nil end
  local rate = (last.used_mb - first.used_mb) / span * DAY
  if rate <= 0 then return { rate_mb_day = 0 } end
  return { rate_mb_day = rate, dry_at = now + left / rate * DAY }
end

--- Derive what the page shows from the model.
-- @tparam table model see the module's description
-- @treturn table|nil the derived view, or nil and an input error
function M.build(model)
  local ok, msg = check(model)
  if not ok then return nil, errors.input(msg) end
  local now = model.now or os.time()
  local v = { title = model.title or "simkit fleet report", now = now, vendors = {}, pools = {}, dry = {}, top = {},
    rules = {}, days = {}, orders = {}, kpi = { cards = 0, active = 0, used = 0, limit = 0, fired = 0, failed = 0,
      orders = 0, cost = {} } }
  local byvendor = {}
  for _, c in ipairs(model.cards or {}) do
    if type(c) == "table" then
      v.kpi.cards = v.kpi.cards + 1
      if c.status == "active" then v.kpi.active = v.kpi.active + 1 end
      local name = tostring(c.vendor or "?")
      local agg = byvendor[name]
      if not agg then
        agg = { name = name, cards = 0, used_mb = 0, limit_mb = 0, unlimited = 0 }
        byvendor[name] = agg
        v.vendors[#v.vendors + 1] = agg
      end
      agg.cards = agg.cards + 1
      local u = type(c.usage) == "table" and c.usage or {}
      if finite(u.used_mb) then agg.used_mb = agg.used_mb + u.used_mb; v.kpi.used = v.kpi.used + u.used_mb end
      if finite(u.limit_mb) then agg.limit_mb = agg.limit_mb + u.limit_mb; v.kpi.limit = v.kpi.limit + u.limit_mb
      else agg.unlimited = agg.unlimited + 1 end
      -- cards not (or no longer) in service are not "running dry"
      local pr = c.status ~= "inactive" and c.status ~= "deactivated" and
        M.projection(c, (model.history or {})[c.iccid], now)
      if pr and pr.dry_at then
        v.dry[#v.dry + 1] = { card = c, rate = pr.rate_mb_day, dry_at = pr.dry_at, left = u.left_mb }
      end
      if finite(u.used_mb) then v.top[#v.top + 1] = { card = c, used = u.used_mb, limit = u.limit_mb } end
    end
  end
  table.sort(v.vendors, function(a, b) return a.name < b.name end)
  table.sort(v.dry, function(a, b)
    if a.dry_at ~= b.dry_at then return a.dry_at < b.dry_at end
    return tostring(a.card.iccid) < tostring(b.card.iccid)
  end)
  table.sort(v.top, function(a, b)
    if a.used ~= b.used then return a.used > b.used end
    return tostring(a.card.iccid) < tostring(b.card.iccid)
  end)
  for i = #v.dry, 11, -1 do v.dry[i] = nil end
  for i = #v.top, 11, -1 do v.top[i] = nil end
  for _, p in ipairs(model.pools or {}) do
    if type(p) == "table" then v.pools[#v.pools + 1] = p end
  end
  table.sort(v.pools, function(a, b)
    if tostring(a.vendor) ~= tostring(b.vendor) then return tostring(a.vendor) < tostring(b.vendor) end
    return tostring(a.name or a.id) < tostring(b.name or b.id)
  end)
  -- rule activity: per rule, per day, per decision
  local rules, daykeys, seen_orders = {}, {}, {}
  for _, e in ipairs(model.audit or {}) do
    if type(e) == "table" and e.rule then
      local r = rules[e.rule]
      if not r then
        r = { name = tostring(e.rule), fired = 0, skipped = 0, failed = 0, done = 0, scheduled = 0, per_day = {} }
        rules[e.rule] = r
        v.rules[#v.rules + 1] = r
      end
      local d = e.decision
      if r[d] then r[d] = r[d] + 1 end
      if d == "fired" then v.kpi.fired = v.kpi.fired + 1 elseif d == "failed" then v.kpi.failed = v.kpi.failed + 1 end
      -- "done" completes a firing: counted once, as fired
      local bucket = d == "fired" and "fired" or (d == "failed" and "failed") or
        ((d == "skipped" or d == "scheduled") and "skipped") or nil
      if bucket and finite(e.time) then
        local k = day(e.time)
        daykeys[k] = true
        r.per_day[k] = r.per_day[k] or { fired = 0, skipped = 0, failed = 0 }
        r.per_day[k][bucket] = r.per_day[k][bucket] + 1
      end
      -- one order per intent key, however many runs logged it
      local okey = e.key ~= nil and tostring(e.key) or nil
      if not model.orders and e.action == "topup" and d == "done" and not (okey and seen_orders[okey]) then
        if okey then seen_orders[okey] = true end
        v.orders[#v.orders + 1] = { time = e.time, iccid = e.iccid, vendor = e.vendor, package = e.package,
          cost = e.cost, currency = e.currency, order_id = e.order_id, status = "done", rule = e.rule }
      end
    end
  end
  table.sort(v.rules, function(a, b) return a.name < b.name end)
  for k in pairs(daykeys) do v.days[#v.days + 1] = k end
  table.sort(v.days)
  while #v.days > 31 do table.remove(v.days, 1) end
  for _, o in ipairs(model.orders or {}) do
    if type(o) == "table" then v.orders[#v.orders + 1] = o end
  end
  table.sort(v.orders, function(a, b) return (tonumber(a.time) or 0) > (tonumber(b.time) or 0) end)
  for _, o in ipairs(v.orders) do
    v.kpi.orders = v.kpi.orders + 1
    if finite(o.cost) then
      local cur = tostring(o.currency or "")
      v.kpi.cost[cur] = (v.kpi.cost[cur] or 0) + o.cost
    end
  end
  return v
end

local CSS = [[
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:#1f2933;background:#f4f6f8}
header{background:linear-gradient(120deg,#123047,#1f6f8b);color:#fff;padding:28px 40px 24px}
header h1{margin:0 0 4px;font-size:26px;font-weight:600;letter-spacing:.2px}
header p{margin:0;opacity:.8}
main{padding:24px 40px 40px;max-width:1280px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:14px;margin-bottom:22px}
.kpi{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 3px rgba(16,42,67,.12)}
.kpi b{display:block;font-size:21px;white-space:nowrap;font-weight:600;color:#123047}
.kpi span{color:#627d98;font-size:12px;text-transform:uppercase;letter-spacing:.6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:18px}
section.wide{grid-column:1/-1}
section{background:#fff;border-radius:10px;padding:16px 20px 18px;box-shadow:0 1px 3px rgba(16,42,67,.12)}
section h2{margin:0 0 12px;font-size:16px;font-weight:600;color:#123047}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:#627d98;font-weight:600;font-size:11px;text-transform:uppercase;letter-spacing:.5px;
 border-bottom:1px solid #d9e2ec;padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid #f0f4f8;font-variant-numeric:tabular-nums;white-space:nowrap}
td.num,th.num{text-align:right}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.tag{display:inline-block;padding:1px 8px;border-radius:9px;font-size:11px;font-weight:600;background:#e4e7eb}
.v-eiotclub{background:#e3f8ff;color:#0b6e99}.v-huawei{background:#ffe3e3;color:#ab091e}.v-tibiot{background:#e3fcec;color:#1b7a43}
.soon{color:#cf1124;font-weight:600}.empty{color:#829ab1;font-style:italic;margin:4px 0}
.legend{font-size:12px;color:#627d98;margin-top:6px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
footer{color:#829ab1;font-size:12px;padding:0 40px 30px}
]]

local function bar_color(ratio)
  if not finite(ratio) then return "#9fb3c8" end
  if ratio >= 0.9 then return "#e12d39" end
  if ratio >= 0.7 then return "#f0b429" end
  return "#27ab83"
end

-- Horizontal usage bars: rows of { label, used, limit }.
local function usage_bars(rows)
  if #rows == 0 then return '<p class="empty">No data.</p>' end
  local h, w, lw = 34, 680, 160
  local out = { ('<svg viewBox="0 0 %d %d" width="100%%" role="img" aria-label="usage against limits">'):format(w, h * #rows) }
  for i, r in ipairs(rows) do
    local y = (i - 1) * h
    local ratio = finite(r.limit) and r.limit > 0 and r.used / r.limit or nil
    local bw = w - lw - 200
    local label = r.label
    if #label > 24 then label = label:sub(1, 22):gsub("[\128-\191]*$", ""):gsub("[\192-\255]$", "") .. "…" end
    out[#out + 1] = ('<text x="0" y="%d" font-size="13" fill="#334e68">%s</text>'):format(y + 21, esc(label))
    out[#out + 1] = ('<rect x="%d" y="%d" width="%d" height="14" rx="7" fill="#e6ecf1"/>'):format(lw, y + 10, bw)
    local fill = ratio and math.max(0, math.min(1, ratio)) or 0
    if fill > 0 then
      out[#out + 1] = ('<rect x="%d" y="%d" width="%.1f" height="14" rx="7" fill="%s"/>'):format(lw, y + 10,
        math.max(14, fill * bw), bar_color(ratio))
    end
    local amount = mb(r.used) .. " / " .. (finite(r.limit) and mb(r.limit) or "no limit") ..
      (ratio and string.format(" · %.0f%%", ratio * 100) or "")
    out[#out + 1] = ('<text x="%d" y="%d" font-size="12" fill="#486581">%s</text>'):format(lw + bw + 10, y + 21, esc(amount))
  end
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

local function vendor_tag(name)
  return ('<span class="tag v-%s">%s</span>'):format(esc(name), esc(name))
end

local function activity(v)
  if #v.rules == 0 then return '<p class="empty">No rule activity in the audit log.</p>' end
  local lw, cw, h = 170, math.max(10, math.min(28, math.floor(760 / math.max(1, #v.days)))), 30
  local w = lw + cw * #v.days + 230
  local out = { ('<svg viewBox="0 0 %d %d" width="%d" style="max-width:100%%;height:auto" role="img" ' ..
    'aria-label="rule activity per day">'):format(w, h * #v.rules + 22, w) }
  local max = 1
  for _, r in ipairs(v.rules) do
    for _, d in pairs(r.per_day) do max = math.max(max, d.fired + d.skipped + d.failed) end
  end
  for i, r in ipairs(v.rules) do
    local y = (i - 1) * h
    out[#out + 1] = ('<text x="0" y="%d" font-size="13" fill="#334e68">%s</text>'):format(y + 19, esc(r.name))
    for j, k in ipairs(v.days) do
      local d = r.per_day[k]
      local x = lw + (j - 1) * cw
      out[#out + 1] = ('<rect x="%d" y="%d" width="%d" height="22" fill="#f0f4f8"/>'):format(x, y + 2, cw - 2)
      if d then
        local base = y + 24
        for _, part in ipairs({ { "fired", "#27ab83" }, { "skipped", "#9fb3c8" }, { "failed", "#e12d39" } }) do
          local n = d[part[1]]
          if n > 0 then
            local hh = math.max(2, n / max * 22)
            base = base - hh
            out[#out + 1] = ('<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s: %d %s</title></rect>')
              :format(x, base, cw - 2, hh, part[2], esc(r.name), k, n, part[1])
          end
        end
      end
    end
    out[#out + 1] = ('<text x="%d" y="%d" font-size="12" fill="#486581">%d fired · %d skipped · %d failed</text>')
      :format(lw + cw * #v.days + 8, y + 19, r.fired, r.skipped + r.scheduled, r.failed)
  end
  local ly = h * #v.rules + 16
  if #v.days > 0 then
    out[#out + 1] = ('<text x="%d" y="%d" font-size="11" fill="#829ab1">%s</text>'):format(lw, ly, esc(v.days[1]))
  end
  if #v.days > 1 then
    out[#out + 1] = ('<text x="%d" y="%d" font-size="11" fill="#829ab1" text-anchor="end">%s</text>')
      :format(lw + cw * #v.days - 2, ly, esc(v.days[#v.days]))
  end
  out[#out + 1] = "</svg>"
  out[#out + 1] = '<div class="legend"><i style="background:#27ab83"></i>fired<i style="background:#9fb3c8"></i>' ..
    'skipped/scheduled<i style="background:#e12d39"></i>failed</div>'
  return table.concat(out)
end

local function section(title, body, wide)
  return ('<section%s><h2>%s</h2>%s</section>'):format(wide and ' class="wide"' or "", esc(title), body)
end

local function table_html(head, rows, numeric)
  if #rows == 0 then return '<p class="empty">None.</p>' end
  local out = { "<table><thead><tr>" }
  for i, h in ipairs(head) do out[#out + 1] = ('<th%s>%s</th>'):format(numeric[i] and ' class="num"' or "", esc(h)) end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for i, cellv in ipairs(r) do out[#out + 1] = ('<td%s>%s</td>'):format(numeric[i] and ' class="num"' or "", cellv) end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table>"
  return table.concat(out)
end

--- Render the report.
-- @tparam table model see the module's description
-- @treturn string|nil the HTML page, or nil and an input error (a model of the wrong shape)
function M.render(model)
  local v, err = M.build(model)
  if not v then return nil, err end
  local k = v.kpi
  local costs = {}
  for cur, n in pairs(k.cost) do costs[#costs + 1] = string.format("%.2f %s", n, cur) end
  table.sort(costs)
  local html = { "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>" .. esc(v.title) .. "</title><style>" .. CSS .. "</style></head><body>",
    "<header><h1>" .. esc(v.title) .. "</h1><p>Generated " .. esc(os.date("!%Y-%m-%d %H:%M UTC", math.floor(v.now))) ..
      " by simkit</p></header><main>" }
  local function kpi(value, label) return ('<div class="kpi"><b>%s</b><span>%s</span></div>'):format(esc(value), esc(label)) end
  html[#html + 1] = '<div class="kpis">' .. kpi(k.cards, "cards") .. kpi(k.active, "active") ..
    kpi(mb(k.used), "data used") .. kpi(k.limit > 0 and mb(k.limit) or "—", "data allowed") ..
    kpi(k.fired, "rule firings") .. kpi(k.failed, "failed actions") ..
    kpi(k.orders, "orders") .. kpi(#costs > 0 and table.concat(costs, ", ") or "—", "spent on orders") .. "</div>"
  local vrows = {}
  for _, a in ipairs(v.vendors) do
    vrows[#vrows + 1] = { label = a.name .. " (" .. a.cards .. ")", used = a.used_mb, limit = a.limit_mb > 0 and a.limit_mb or nil }
  end
  local prows = {}
  for _, p in ipairs(v.pools) do
    prows[#prows + 1] = { label = tostring(p.name or p.id) .. " · " .. tostring(p.vendor or "?"), used = p.used_mb,
      limit = p.limit_mb }
  end
  local dry = {}
  for _, d in ipairs(v.dry) do
    local soon = d.dry_at - v.now <= 7 * DAY
    dry[#dry + 1] = { '<span class="mono">' .. esc(d.card.iccid) .. "</span>", vendor_tag(d.card.vendor),
      esc(mb(d.left)), esc(d.rate and (mb(d.rate) .. "/day") or "—"),
      ('<span class="%s">%s</span>'):format(soon and "soon" or "", d.dry_at <= v.now and "dry now" or esc(day(d.dry_at))) }
  end
  local top = {}
  for _, t in ipairs(v.top) do
    top[#top + 1] = { '<span class="mono">' .. esc(t.card.iccid) .. "</span>", vendor_tag(t.card.vendor),
      esc(t.card.status or "—"), esc(mb(t.used)), esc(finite(t.limit) and mb(t.limit) or "—") }
  end
  local orders = {}
  for _, o in ipairs(v.orders) do
    orders[#orders + 1] = { esc(finite(o.time) and os.date("!%Y-%m-%d %H:%M", math.floor(o.time)) or "—"),
      '<span class="mono">' .. esc(o.iccid) .. "</span>", vendor_tag(o.vendor or "?"), esc(o.package or "—"),
      esc(o.order_id or "—"), esc(o.status or "—"),
      esc(finite(o.cost) and string.format("%.2f %s", o.cost, o.currency or "") or "—") }
  end
  html[#html + 1] = '<div class="grid">'
  html[#html + 1] = section("Usage per vendor", usage_bars(vrows))
  html[#html + 1] = section("Usage per pool", usage_bars(prows))
  html[#html + 1] = section("Closest to running dry", table_html({ "ICCID", "Vendor", "Left", "Burn rate", "Projected dry" },
    dry, { false, false, true, true, true }))
  html[#html + 1] = section("Top consumers", table_html({ "ICCID", "Vendor", "Status", "Used", "Limit" }, top,
    { false, false, false, true, true }))
  html[#html + 1] = "</div>"
  html[#html + 1] = '<div class="grid" style="margin-top:18px">'
  html[#html + 1] = section("Rule activity", activity(v), true)
  html[#html + 1] = section("Orders", table_html({ "Time (UTC)", "ICCID", "Vendor", "Package", "Order", "Status", "Cost" },
    orders, { false, false, false, false, false, false, true }), true)
  html[#html + 1] = "</div></main><footer>Projections extrapolate each card's usage snapshots linearly. " ..
    "Data in MB (1 MB = 1048576 bytes).</footer></body></html>\n"
  return table.concat(html)
end

--- Read an audit log (JSON lines, as written by the rules engine).
-- @tparam string path
-- @treturn table|nil the entries (lines that are not JSON objects are skipped and counted),
--   or nil and an input error
-- @treturn integer the number of lines skipped
function M.read_audit(path)
  if type(path) ~= "string" or path == "" then return nil, errors.input("audit path must be a non-empty string") end
  local f, ferr = io.open(path, "r")
  if not f then return nil, errors.input("cannot read the audit log: " .. tostring(ferr)) end
  local json = require "simkit.json"
  local out, skipped = {}, 0
  for line in f:lines() do
    if line:match("%S") then
      local e = json.decode(line)
      if type(e) == "table" and getmetatable(e) ~= json.array_mt then out[#out + 1] = e else skipped = skipped + 1 end
    end
  end
  f:close()
  return out, skipped
end

return M
