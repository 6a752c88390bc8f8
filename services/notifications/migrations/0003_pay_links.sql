-- Pay links staff issued after sending (PayLinkReplaced), numbered (InvoiceSent's is 1): the
-- highest is the live link later messages carry; a message queued before is sent with it.
CREATE TABLE IF NOT EXISTS pay_links (
    invoice_id   TEXT NOT NULL,
    link_number  INTEGER NOT NULL,
    shop_id      TEXT NOT NULL,
    pay_url      TEXT NOT NULL,
    PRIMARY KEY (invoice_id, link_number)
);
