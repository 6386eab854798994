"""BillRun's payment-gateway endpoints over Stripay's hosted checkout (docs/billrun.md).

The path of one payment, module by module:

- :mod:`.app`: the sub-application at ``/paymentgateways`` and its one error middleware (:mod:`.answers`);
- :mod:`.get_request`: BillRun's signed request (:mod:`shared.billrun_signature`) read and checked
  (:mod:`.params`, :mod:`.urls`), a txId remembered (:mod:`.store`), Stripay's checkout created;
- :mod:`.ok_page`: the customer's return, confirmed with Stripay (:mod:`.orders`) and applied
  through :func:`shared.order_apply.apply_verified_async` like every other signal.
"""
