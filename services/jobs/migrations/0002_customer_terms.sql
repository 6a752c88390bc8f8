ALTER TABLE customers
    ADD COLUMN IF NOT EXISTS customer_type TEXT NOT NULL DEFAULT 'residential'
        CHECK (customer_type IN ('residential', 'commercial', 'property_manager')),
    ADD COLUMN IF NOT EXISTS payment_terms TEXT NOT NULL DEFAULT 'due_on_receipt'
        CHECK (payment_terms IN ('due_on_receipt', 'net_15', 'net_30', 'net_45', 'net_60', 'custom')),
    ADD COLUMN IF NOT EXISTS tax_exemption_certificate TEXT;
