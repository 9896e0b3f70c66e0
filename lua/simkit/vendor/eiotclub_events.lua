--- EIOTCLUB asynchronous notifications: event name -> the business fields
-- simkit requires (written by hand from `notifications` in the catalog
-- `spec/eiotclub.json`; `spec/notify_spec.lua` checks it against the catalog
-- when the catalog is present).
--
-- * `fields`: top-level fields that must be present (besides the envelope
--   `id`, `event`, `timestamp`, `nonce`, `sign`).
-- * `data`: "array" or "object" when the event carries `data` (sent by the
--   vendor as a JSON-encoded string); `data_fields` must be present in the
--   object / in every item.
-- * `soft` / `data_soft`: fields the catalog marks required but the vendor's
--   own examples omit (quirk 21: Refund without orderAmount/refundAmount;
--   salesChannel/startDate/endDate missing from the package examples). They
--   are not enforced; when absent they are listed in `event.missing`.
-- @module simkit.vendor.eiotclub_events
local PKG = { "iccid", "orderId", "packageName", "packageCode", "state", "gzhPackageName",
  "packageType", "createDate" }
local CPKG = { "packageName", "packageCode", "state", "gzhPackageName", "packageType",
  "createDate", "eid", "eshopOrderId" }

return {
  FlowAlert = { fields = { "iccid", "alert_type", "alert_value" } },
  SubPkgList = { data = "array", data_fields = PKG, data_soft = { "salesChannel" } },
  PkgEffective = { data = "object", data_fields = PKG,
    data_soft = { "salesChannel", "startDate", "endDate" } },
  Refund = { fields = { "iccid", "orderId", "outTradeNo" }, soft = { "orderAmount", "refundAmount" } },
  PkgQuantityList = { data = "array", data_fields = PKG },
  CardStopped = { fields = { "iccid" } },
  SwitchProduct = { data = "array", data_fields = { "iccid", "productCode" } },
  CardIMEILocked = { fields = { "iccid" } },
  IMEIUnLock = { fields = { "iccid" } },
  CardMovedOutIMEIPool = { fields = { "iccid", "plockGroupId" } },
  CardMovedInIMEIPool = { fields = { "iccid", "plockGroupId" } },
  CloudESimLocked = { fields = { "eid" } },
  CloudESimUnLock = { fields = { "eid" } },
  CloudESimFlowAlert = { fields = { "alert_type", "alert_value", "eid" } },
  CloudESimSubPkgList = { data = "array", data_fields = CPKG, data_soft = { "salesChannel" } },
  CloudESimPkgActivate = { data = "object", data_fields = CPKG,
    data_soft = { "salesChannel", "startDate", "endDate" } },
  CloudESimRefund = { fields = { "outTradeNo", "eid", "eshopOrderId" },
    soft = { "orderAmount", "refundAmount" } },
  CloudESimPkgDeactivate = { data = "array", data_fields = CPKG },
  CloudESimCardStopped = { fields = { "eid" } },
  CloudESimSwitchProduct = { data = "array", data_fields = { "productCode", "eid" } },
}
