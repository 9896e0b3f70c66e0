--- The 58 EIOTCLUB endpoints with arguments that succeed against the
-- sandbox's seeded state, in an order where each call's prerequisites
-- (orders to refund, pools to fill...) come first. Shared by
-- spec/sim_eiotclub_spec.lua (raw signed calls: the sandbox) and
-- spec/eiotclub_spec.lua (simkit's client: the library).
--
--   local calls = require("spec.support.eiotclub_calls")(helpers)
--   helpers = { ICCID = fn, EID = fn, is_array = fn, is_object = fn }
--
-- Entry: { op, path, params (table, or function(ctx) -> table), check =
-- function(env, ctx), int_code, no_message, no_data, nonce_string,
-- root_total }. `check` reads the envelope `env` (`env.data` ...); ctx is
-- shared by the run and must offer `ctx.order_number(outTradeNo, state)`.
-- `root_total` marks a check that reads the envelope's root `total`.
local assert = require "luassert"

return function(h)
  local ICCID, EID, is_array, is_object = h.ICCID, h.EID, h.is_array, h.is_object
  return {
    { "get_all_card_info", "/api/v3/card/getAllCardInfo", { pageNum = "1" }, check = function(e)
      assert.is_true(is_array(e.data.cardInfoList))
      assert.are.equal(12, #e.data.cardInfoList)
      assert.are.equal(1, e.data.totalPage)
      local c = e.data.cardInfoList[1]
      assert.are.equal(ICCID(1), c.iccid)
      assert.are.equal(10004702, c.orderId)
      assert.are.equal(1234.56, c.monthUseFlow)
      assert.are.equal("860000000000011", c.imei)
    end },
    { "get_cards_info", "/api/v3/card/getCardsInfo", { iccid = ICCID(1) }, check = function(e)
      assert.are.equal(ICCID(1), e.data.iccid)
      assert.are.equal("ACTIVATED_NAME", e.data.cardStatus)
      assert.are.equal(5120, e.data.dataFlow)
      assert.are.equal("", e.data.eid)
      assert.truthy(e.data.packageEndDate:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$"))
    end },
    { "package_order_record", "/api/v3/package/packageOrderRecord", { iccid = ICCID(2) }, root_total = true, check = function(e)
      assert.is_true(is_array(e.data))
      assert.are.equal(3, e.total)
      assert.are.equal(3, #e.data)
      assert.are.equal(1, e.data[1].isRefund)
      assert.are.equal("SEED-0002-R", e.data[1].outTradeNo)
      assert.are.equal(10485760, e.data[1].flowUsageBytes)
    end },
    { "list_order_package_by_iccid", "/api/v3/package/listOrderPackageByIccid", { iccid = ICCID(1) },
      check = function(e)
        assert.is_true(is_array(e.data))
        assert.are.equal(3, #e.data)
        assert.are.equal(5, e.data[1].operator)
        assert.are.equal(4.5, e.data[1].price)
      end },
    { "refresh_card", "/api/v3/card/refreshCard", { iccid = ICCID(1) }, no_data = true },
    { "query_account_warning_card", "/api/v3/outputApi/queryAccountWarningCard", { pageNum = 1 },
      check = function(e)
        assert.are.equal(1, e.data.totalPage)
        assert.are.equal(4, #e.data.cardInfoList)
        assert.are.equal("1", e.data.cardInfoList[1].type)
        assert.are.equal(100, e.data.cardInfoList[1].earlyWarningValue)
      end },
    { "query_card_number", "/api/v3/outputApi/queryCardNumber", {}, check = function(e)
      assert.are.same({ totalCard = 12, activatedCard = 10, usingCard = 8, orderedCard = 9, deactivatedCard = 1 },
        { totalCard = e.data.totalCard, activatedCard = e.data.activatedCard, usingCard = e.data.usingCard,
          orderedCard = e.data.orderedCard, deactivatedCard = e.data.deactivatedCard })
    end },
    { "list_profit_info", "/api/v3/outputApi/listProfitInfo", { pageNum = 1, pageSize = 5 }, check = function(e)
      assert.are.equal(7, e.data.total)
      assert.are.equal(5, #e.data.data)
      assert.are.equal("1.0000", e.data.data[1].payRate)
    end },
    { "switch_options", "/api/v3/card/switchOptions", { iccid = ICCID(1) }, check = function(e)
      assert.are.same({ "ATT", "TMobile", "ChinaMobile", "ChinaUnicom", "ALL" }, e.data.operators)
      assert.are.equal("ALL", e.data.network)
    end },
    { "switch_operator", "/api/v3/card/switchOperator", { iccid = ICCID(1), network = "ATT" }, no_data = true },
    { "imei_unlock", "/api/v3/card/imeiUnlock", { iccid = ICCID(5) }, check = function(e)
      assert.are.equal(2, e.data.imeiPoolUnlockCount)
    end },
    { "plock_add_imei", "/api/v3/card/plockAddImei", { imei = "860000000000999", plockGroupId = 3001 },
      check = function(e) assert.is_true(is_object(e.data)) end },
    { "sms_send_sms", "/api/v3/sms/sendSms", { iccid = ICCID(1), message = "hello 你好" }, check = function(e)
      assert.truthy(e.data.trans_id:match("^SMS%d+$"))
    end },
    { "query_refund_amount", "/api/v3/package/queryRefundAmount", { iccid = ICCID(2), orderId = "10004705" },
      check = function(e)
        assert.are.same({ amount = "4.50", currency = "USD", amount_int = 450 },
          { amount = e.data.amount, currency = e.data.currency, amount_int = e.data.amount_int })
      end },
    { "agent_balance", "/api/v3/agent/balance", {}, check = function(e)
      assert.are.equal("1000.00", e.data.balance)
      assert.are.equal("USD", e.data.currency)
    end },
    { "query_package", "/api/v3/package/queryPackage", { iccid = ICCID(2), orderId = "10004703" },
      check = function(e) assert.are.equal(-1, e.data.status) end },
    { "product", "/api/v3/card/product", { iccid = ICCID(3) }, check = function(e)
      assert.are.equal("1US-TN20230607140809", e.data.productCode)
    end },
    { "list_order_package_by_product", "/api/v3/package/listOrderPackageByProduct",
      { productCode = "GLB120-20220308161656" }, check = function(e)
        assert.are.equal(3, #e.data.list)
        assert.are.equal(150, e.data.list[1].price)
        assert.are.equal("Global 120", e.data.list[1].zone.name)
        assert.is_true(is_array(e.data.list[1].zone.countries[1].operators))
      end },
    { "query_order_package_by_package_code", "/api/v3/package/queryOrderPackageByPackageCode",
      { packageCode = "GJ-LLB-1G-30-1US-DN" }, check = function(e)
        assert.are.equal(1024, e.data.flowSize)
        assert.are.equal(2, e.data.periodType)
        assert.are.equal("North America", e.data.zone.name)
      end },
    { "esim_goods", "/api/v3/esim/goods", {}, int_code = true, check = function(e)
      assert.are.equal(3, #e.data.list)
      assert.are.equal("ESIM-NA-3G-30D", e.data.list[1].code)
      assert.are.equal(900, e.data.list[1].price)
      assert.are.equal(3072, e.data.list[1].package.flowSize)
    end },
    { "esim_purchase", "/api/v3/esim/purchase", { eSIMGoodsCode = "ESIM-NA-3G-30D", outTradeNo = "EP-1" },
      int_code = true, check = function(e, c)
        assert.are.equal("string", type(e.data.orderId))
        assert.truthy(e.data.activationCode:match("^LPA:1%$"))
        assert.are.equal(20, #e.data.iccid)
        c.esim_order = e.data.orderId
      end },
    { "esim_order_status", "/api/v3/esim/orderStatus", function(c) return { orderId = c.esim_order } end,
      check = function(e) assert.are.equal(2, e.data.status) end },
    { "esim_query_refund_amount", "/api/v3/esim/queryRefundAmount",
      function(c) return { orderId = c.esim_order } end, check = function(e)
        assert.are.equal(900, e.data.amount)
        assert.are.equal("USD", e.data.currency)
      end },
    { "esim_refund", "/api/v3/esim/refund", function(c) return { orderId = c.esim_order, remark = "spec" } end,
      int_code = true, check = function(e) assert.is_true(is_object(e.data)) end },
    { "get_order_package_details", "/api/v3/package/getOrderPackageDetails",
      { outTradeNoArrStr = "SEED-0001-B,SEED-0002-A,SEED-0002-B", state = 1, page = 1, pageSize = 10 },
      check = function(e)
        assert.is_true(is_array(e.data))
        assert.are.equal(2, #e.data)
        assert.truthy(e.data[1].orderNumber:match("^%x+%-%x+%-%x+%-%x+%-%x+$"))
      end },
    { "bind_device", "/api/v3/card/bindDevice", { iccid = ICCID(9), imei = "860000000000091" }, no_data = true },
    { "unbind_device", "/api/v3/card/unbindDevice", { iccid = ICCID(9) }, no_data = true },
    { "transfer_pkg", "/api/v3/card/transferPkg", function(c)
      return { oldIccid = ICCID(2), newIccid = ICCID(10), orderId = 10004705,
        orderNumber = c.order_number("SEED-0002-B", 0), memo = "spec" }
    end, check = function(e)
      assert.are.equal("GJ-LLB-1G-30-1US-DN", e.data.newPkgCode)
      assert.are.equal("number", type(e.data.newOrderId))
    end },
    { "refresh_usage", "/api/v3/card/refreshUsage", { iccid = ICCID(1) }, no_data = true },
    { "cancel_location", "/api/v3/card/cancelLocation", { iccid = ICCID(1) }, no_data = true },
    { "reset", "/api/v3/card/reset", { iccids = ICCID(1) .. "," .. ICCID(2) }, no_data = true, nonce_string = true },
    { "task_query", "/api/v3/task/query", { ids = "9001,9002,9003,nope" }, no_message = true,
      nonce_string = true, check = function(e)
        assert.are.equal(3, #e.data)
        assert.are.same({ "2", "-2", "-1" }, { e.data[1].status, e.data[2].status, e.data[3].status })
      end },
    { "order_package", "/api/v3/package/orderPackage",
      { iccid = ICCID(11), packageCode = "GJ-LLB-100M-7-GLB120", outTradeNo = "OP-1" }, check = function(e, c)
        assert.are.equal("string", type(e.data.orderNumber))
        assert.are.equal("number", type(e.data.orderId))
        c.order = e.data.orderId
      end },
    { "refund_package", "/api/v3/package/refundPackage",
      function(c) return { iccid = ICCID(11), orderId = tostring(c.order), remark = "spec" } end,
      check = function(e) assert.is_true(is_object(e.data)) end },
    { "cloudesim_list", "/api/v3/cloudesim/list", { pageNum = "1" }, check = function(e)
      assert.are.equal(4, #e.data.cardInfoList)
      assert.are.equal(1, e.data.totalPage)
      assert.are.equal(5368709120, e.data.cardInfoList[1].currentPkgTotalBytes)
    end },
    { "cloudesim_get", "/api/v3/cloudesim/get", { eid = EID(1) }, check = function(e)
      assert.are.equal(EID(1), e.data.eid)
      assert.are.equal(1610612736, e.data.currentPkgUsedBytes)
    end },
    { "cloudesim_pkg_list", "/api/v3/cloudesim/pkg/list", { eid = EID(1) }, check = function(e)
      assert.are.equal(3, #e.data.list)
      assert.are.equal(1073741824, e.data.list[1].flowSizeBytes)
    end },
    { "cloudesim_pkg_record_list", "/api/v3/cloudesim/pkg/record/list", { eid = EID(1) }, check = function(e)
      assert.are.equal(1, e.data.total)
      assert.are.equal(20001001, e.data.list[1].eshopOrderId)
    end },
    { "cloudesim_refresh_usage", "/api/v3/cloudesim/refreshUsage", { eid = EID(1) } },
    { "cloudesim_cancel_session", "/api/v3/cloudesim/cancelSession", { eid = EID(1) } },
    { "cloudesim_purchase", "/api/v3/cloudesim/purchase",
      { eid = EID(2), outTradeNo = "CP-1", packageCode = "CE-GLB-1G-7D" }, check = function(e, c)
        assert.are.equal("CP-1", e.data.outTradeNo)
        assert.are.equal("string", type(e.data.orderId))
        c.ce_order = e.data.eshopOrderId
      end },
    { "cloudesim_order_status", "/api/v3/cloudesim/orderStatus",
      function(c) return { eshopOrderId = c.ce_order } end, check = function(e)
        assert.are.equal(2, e.data.status)
        assert.are.equal(EID(2), e.data.eid)
      end },
    { "cloudesim_query_refund_amount", "/api/v3/cloudesim/queryRefundAmount",
      function(c) return { eshopOrderId = c.ce_order } end, check = function(e)
        assert.are.equal(350, e.data.amount)
      end },
    { "cloudesim_refund", "/api/v3/cloudesim/refund",
      function(c) return { eshopOrderId = c.ce_order, remark = "spec" } end },
    { "cloudesim_transfer_pkg", "/api/v3/cloudesim/transferPkg",
      { oldEid = EID(1), newEid = EID(4), oldEshopOrderId = 20001001 }, check = function(e)
        assert.are.equal("CE-GLB-5G-30D", e.data.newPkgCode)
        assert.are.equal("number", type(e.data.newEshopOrderId))
      end },
    { "pool_pkg_list", "/api/v3/pool/pkg/list", {}, check = function(e)
      assert.are.equal(2, #e.data.list)
      assert.are.equal(10737418240, e.data.list[1].total_data)
    end },
    { "pool_create", "/api/v3/pool/create", { pool_type_code = "POOL-10L-10G-30D", memo = "spec" },
      check = function(e) assert.are.equal(388, e.data.pool_object_id) end },
    { "pool_list", "/api/v3/pool/list", { pool_object_id_arr = "380,388" }, check = function(e)
      assert.are.equal(2, #e.data.list)
      assert.are.equal(2, e.data.list[1].used_pool_lines)
    end },
    { "pool_sub", "/api/v3/pool/sub", { pool_object_id = 388, pool_type_code = "POOL-10L-10G-30D",
      out_trade_no = "PS-1" }, check = function(e) assert.are.equal("string", type(e.data.order_no)) end },
    { "pool_record_list", "/api/v3/pool/record/list", { pool_object_id = 388, page = 1, page_size = 10 },
      check = function(e)
        assert.are.equal(1, #e.data.list)
        assert.are.equal(3, e.data.list[1].status_code)
      end },
    { "pool_unsub", "/api/v3/pool/unsub", { pool_object_id = "388", out_trade_no = "PS-1" } },
    { "pool_card_can_add_list", "/api/v3/pool/card/can_add_list",
      { pool_object_id = 388, iccid_arr = ICCID(1) .. "," .. ICCID(3) }, check = function(e)
        assert.are.same({ { iccid = ICCID(1) } }, { { iccid = e.data.list[1].iccid } })
        assert.are.equal(1, #e.data.list)
      end },
    { "pool_card_add", "/api/v3/pool/card/add", { pool_object_id = 388, iccid_arr = ICCID(1) } },
    { "pool_card_list", "/api/v3/pool/card/list", { pool_object_id = 388 }, check = function(e)
      assert.are.equal(ICCID(1), e.data.list[1].iccid)
      assert.are.equal("number", type(e.data.list[1].create_at))
    end },
    { "pool_card_remove", "/api/v3/pool/card/remove", { pool_object_id = 388, iccid_arr = ICCID(1) } },
    { "pool_delete", "/api/v3/pool/delete", { pool_object_id = 388 } },
    { "pool_by_iccid", "/api/v3/pool/by_iccid", { iccid = ICCID(3) }, check = function(e)
      assert.are.equal(380, e.data.pool_object_id)
    end },
    { "cdr_traffic_query", "/api/v3/cdr/traffic/query", { dateType = "monthly", month = "2026-01",
      iccids = ICCID(1) .. "," .. ICCID(9) }, nonce_string = true, check = function(e)
        assert.are.equal(1, #e.data)
        assert.are.equal(ICCID(1), e.data[1].iccid)
        assert.truthy(e.data[1].traffic:match("^%d+$"))
      end },
  }
end
