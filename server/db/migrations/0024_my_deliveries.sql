-- A member's received campaign mails (ListMyDeliveries), newest first, without a scan
-- of the whole ledger.
create index campaign_deliveries_mine_idx on campaign_deliveries (user_id, sent_at desc, id desc)
  where state = 'sent';
