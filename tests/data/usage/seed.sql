INSERT INTO account (id, email, name) VALUES (1, 'a@example.com', 'A'), (2, 'b@example.com', 'B'), (3, 'c@example.com', 'C');
INSERT INTO product (id, sku, title, price_cents, stock, attrs, search_text) VALUES (1, 'SKU-1', 'Mug', 900, 5, '{"color": "red", "size": "L"}', 'red mug'), (3, 'SKU-3', 'Cup', 500, 0, NULL, NULL), (4, 'SKU-4', 'Pot', 2500, 3, NULL, NULL);
INSERT INTO orders (id, account_id, status, total_cents) VALUES (5, 1, 'paid', 2000), (7, 2, 'new', 500);
INSERT INTO order_item (id, order_id, product_id, quantity, unit_price_cents) VALUES (1, 5, 1, 2, 900), (2, 7, 3, 1, 500);
INSERT INTO tag (id, name) VALUES (1, 'x');
