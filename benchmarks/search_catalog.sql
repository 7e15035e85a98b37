-- `make bench`'s search step (benchmarks/bench.py, search_step): a scratch catalog of :products products
-- (psql -v products=100000), written straight into product-service's `products` table in one statement
-- (not through the API: no outbox events, nothing for the basket), seeded so that every run gets the same
-- catalog. product-service's trigger (migration 004_search) fills `product_words` row by row; `search` is
-- its generated column. Then VACUUM ANALYZE, as autovacuum would have done on a catalog at rest.
--
-- 13 categories, 110 brand/line pairs (`Samsung Galaxy S`, `Apple iPhone`, `Bosch Serie`, ...) with model
-- numbers, editions (Pro, Ultra, ...) and a variant (capacity, size, colour); phone accessories named after
-- the phones they fit ("Spigen Case for Apple iPhone 12"); a description built from the category's
-- features; headphones, watches, speakers and accessories mention "phone" in half of their descriptions.
-- Prices log-uniform within the category's range (x.99), 10 % out of stock.
SELECT setseed(0.3);
WITH categories(category, noun, lo, hi, variants, features, pairs) AS (VALUES
  ('Smart Phone', 'smartphone', 99, 1499, ARRAY['64 GB','128 GB','256 GB','512 GB'], ARRAY['an OLED display','a triple camera','a 5000 mAh battery','fast charging','5G','a 120 Hz screen','wireless charging','an IP68 rating','a telephoto lens','a night mode camera'], false),
  ('Phone Accessories', 'accessory', 5, 129, ARRAY['Black','Clear','Blue','Red','Green'], ARRAY['drop protection','MagSafe support','a braided cable','20 W fast charging','a tempered glass layer','a slim profile','a lifetime warranty'], true),
  ('Tablet', 'tablet', 129, 1899, ARRAY['64 GB','128 GB','256 GB','Wi-Fi','LTE'], ARRAY['a 10.9 inch display','a stylus','a keyboard cover','all-day battery','stereo speakers','a laminated screen'], false),
  ('Laptop', 'laptop', 299, 3499, ARRAY['8 GB RAM','16 GB RAM','32 GB RAM','512 GB SSD','1 TB SSD'], ARRAY['a backlit keyboard','a 14 inch display','a 16 inch display','Thunderbolt ports','a discrete GPU','a fingerprint reader','a metal chassis','a long battery life'], false),
  ('Headphones', 'headphones', 19, 549, ARRAY['Black','White','Silver','Midnight Blue'], ARRAY['active noise cancelling','30 hours of battery','a transparency mode','multipoint Bluetooth','a foldable design','spatial audio','a built-in microphone'], true),
  ('Smart Watch', 'watch', 49, 899, ARRAY['40 mm','44 mm','46 mm','Black','Silver'], ARRAY['heart rate tracking','GPS','an always-on display','sleep tracking','contactless payments','water resistance to 50 m','blood oxygen sensing'], true),
  ('Television', 'television', 199, 4999, ARRAY['43 inch','50 inch','55 inch','65 inch','75 inch'], ARRAY['4K HDR','Dolby Vision','a 120 Hz panel','a smart TV platform','HDMI 2.1','local dimming','a slim bezel'], false),
  ('Camera', 'camera', 149, 3999, ARRAY['Body only','Kit 18-55 mm','Kit 24-105 mm','Black','Silver'], ARRAY['a full-frame sensor','4K video','in-body stabilisation','a tilting screen','eye autofocus','weather sealing','dual card slots'], false),
  ('Monitor', 'monitor', 99, 1999, ARRAY['24 inch','27 inch','32 inch','34 inch'], ARRAY['an IPS panel','a 144 Hz refresh rate','USB-C power delivery','a height-adjustable stand','HDR 400','a curved screen','a 1 ms response time'], false),
  ('Speaker', 'speaker', 29, 999, ARRAY['Black','Blue','Red','Sand','Teal'], ARRAY['deep bass','a waterproof design','20 hours of playtime','a party mode','voice assistant support','stereo pairing'], true),
  ('Gaming', 'console', 19, 699, ARRAY['Standard Edition','Digital Edition','Bundle','Black','White'], ARRAY['a wireless controller','RGB lighting','ray tracing','a 1 TB drive','haptic feedback','low latency'], false),
  ('White Appliances', 'appliance', 249, 2999, ARRAY['7 kg','8 kg','9 kg','60 cm','Stainless Steel','White'], ARRAY['an energy class A rating','a quiet motor','a steam programme','a delay start','an inverter motor','a no-frost system','a quick wash'], false),
  ('Home Kitchen', 'kitchen appliance', 19, 899, ARRAY['Black','Stainless Steel','White','Red','1.5 l','5 l'], ARRAY['a digital timer','a dishwasher-safe basket','a milk frother','a 1500 W motor','a keep-warm function','a glass jug','an auto shut-off'], false)
), lines(category, brand, line, code, top) AS (VALUES
  ('Smart Phone','Apple','iPhone','',16), ('Smart Phone','Samsung','Galaxy','S',24), ('Smart Phone','Samsung','Galaxy','A',73),
  ('Smart Phone','Google','Pixel','',9), ('Smart Phone','Xiaomi','Redmi Note','',13), ('Smart Phone','Xiaomi','Mi','',14),
  ('Smart Phone','Huawei','Mate','',60), ('Smart Phone','Huawei','P','',60), ('Smart Phone','OnePlus','Nord','N',30),
  ('Smart Phone','Motorola','Moto','G',84), ('Smart Phone','Nokia','G','',60), ('Smart Phone','Sony','Xperia','',10),
  ('Smart Phone','Oppo','Reno','',12), ('Smart Phone','Realme','GT','',6), ('Smart Phone','HTC','U','',23),
  ('Phone Accessories','Spigen','Case','',0), ('Phone Accessories','OtterBox','Case','',0), ('Phone Accessories','Anker','Charger','',0),
  ('Phone Accessories','Belkin','Screen Protector','',0), ('Phone Accessories','Ugreen','Cable','',0), ('Phone Accessories','Baseus','Power Bank','',0),
  ('Phone Accessories','Anker','Power Bank','',0), ('Phone Accessories','Belkin','Wireless Charger','',0),
  ('Tablet','Apple','iPad','',11), ('Tablet','Samsung','Galaxy Tab','S',9), ('Tablet','Lenovo','Tab','P',12), ('Tablet','Huawei','MatePad','',11),
  ('Tablet','Xiaomi','Pad','',6), ('Tablet','Amazon','Fire','HD ',10),
  ('Laptop','Apple','MacBook Air','M',3), ('Laptop','Apple','MacBook Pro','M',3), ('Laptop','Dell','XPS','',17), ('Laptop','Dell','Inspiron','',15),
  ('Laptop','HP','Pavilion','',15), ('Laptop','HP','Spectre','x',360), ('Laptop','Lenovo','ThinkPad','X',13), ('Laptop','Lenovo','IdeaPad','',5),
  ('Laptop','Asus','ZenBook','UX',490), ('Laptop','Asus','ROG Strix','G',17), ('Laptop','Acer','Aspire','',7), ('Laptop','Acer','Swift','',5),
  ('Laptop','Microsoft','Surface Laptop','',6), ('Laptop','Samsung','Galaxy Book','',4),
  ('Headphones','Sony','WH','1000XM',5), ('Headphones','Bose','QuietComfort','',45), ('Headphones','Apple','AirPods','',4),
  ('Headphones','Samsung','Galaxy Buds','',3), ('Headphones','JBL','Tune','',770), ('Headphones','Sennheiser','Momentum','',4),
  ('Headphones','Beats','Studio','',3), ('Headphones','Jabra','Elite','',85),
  ('Smart Watch','Apple','Watch Series','',10), ('Smart Watch','Samsung','Galaxy Watch','',7), ('Smart Watch','Garmin','Forerunner','',965),
  ('Smart Watch','Fitbit','Versa','',4), ('Smart Watch','Huawei','Watch GT','',5), ('Smart Watch','Xiaomi','Smart Band','',9),
  ('Television','Samsung','QLED','QE',90), ('Television','LG','OLED','C',4), ('Television','Sony','Bravia','X',95), ('Television','Philips','Ambilight','PUS',8900),
  ('Television','TCL','QLED','C',845), ('Television','Hisense','ULED','U',8), ('Television','Panasonic','Viera','TX',65),
  ('Camera','Canon','EOS','R',10), ('Camera','Nikon','Z','',9), ('Camera','Sony','Alpha','A',7), ('Camera','Fujifilm','X','T',5),
  ('Camera','Panasonic','Lumix','S',5), ('Camera','GoPro','Hero','',12), ('Camera','Olympus','OM-D','E-M',10),
  ('Monitor','Dell','UltraSharp','U',3223), ('Monitor','LG','UltraGear','GP',950), ('Monitor','Samsung','Odyssey','G',9),
  ('Monitor','Asus','ProArt','PA',329), ('Monitor','BenQ','Zowie','XL',2546), ('Monitor','AOC','Gaming','Q',27),
  ('Speaker','JBL','Flip','',6), ('Speaker','JBL','Charge','',5), ('Speaker','Bose','SoundLink','',3), ('Speaker','Sonos','Era','',300),
  ('Speaker','Sony','SRS','XB',43), ('Speaker','Marshall','Emberton','',3), ('Speaker','Ultimate Ears','Boom','',4),
  ('Gaming','Sony','PlayStation','',5), ('Gaming','Microsoft','Xbox Series','',2), ('Gaming','Nintendo','Switch','',2),
  ('Gaming','Logitech','G Pro','',3), ('Gaming','Razer','BlackShark','V',2), ('Gaming','SteelSeries','Arctis','',9),
  ('White Appliances','Bosch','Serie','',8), ('White Appliances','Samsung','Bespoke','',5), ('White Appliances','LG','TurboWash','F',4),
  ('White Appliances','Whirlpool','FreshCare','W',7), ('White Appliances','Miele','W1','WWD',320), ('White Appliances','Siemens','iQ','',700),
  ('White Appliances','Electrolux','PerfectCare','EW',8),
  ('Home Kitchen','Philips','Airfryer','HD',9270), ('Home Kitchen','DeLonghi','Magnifica','ECAM',290), ('Home Kitchen','Nespresso','Vertuo','',5),
  ('Home Kitchen','KitchenAid','Artisan','KSM',200), ('Home Kitchen','Tefal','ActiFry','FZ',770), ('Home Kitchen','Braun','MultiQuick','MQ',9),
  ('Home Kitchen','Dyson','V','',15), ('Home Kitchen','Smeg','Kettle','KLF',4)
), numbered AS (
  SELECT row_number() OVER () AS n, l.*, c.noun, c.lo, c.hi, c.variants, c.features, c.pairs FROM lines l JOIN categories c USING (category)
), phones AS (  -- what the accessories are for: four models of each phone line
  SELECT array_agg(brand || ' ' || line || ' ' || code || (1 + (k * 7) % top)::text) AS names
  FROM numbered, generate_series(1, 4) k WHERE category = 'Smart Phone'
), words AS (
  SELECT ARRAY['compact','powerful','lightweight','premium','affordable','durable','sleek','versatile','reliable','elegant','rugged','quiet','smart','classic','fast'] AS adjectives,
         ARRAY['',' Pro',' Plus',' Ultra',' Lite',' Max',' Mini',' SE','',''] AS editions
), draws AS (  -- every random number of a product, drawn per row
  SELECT i, 1 + floor(random() * (SELECT count(*) FROM numbered))::int AS line_no,
         random() AS r_model, random() AS r_edition, random() AS r_variant, random() AS r_adjective, random() AS r_feature,
         random() AS r_price, random() AS r_stock, random() AS r_pair, random() AS r_phone, random() AS r_age
  FROM generate_series(1, :products) g(i)
), made AS (
  SELECT d.*, l.category, l.noun, l.pairs, l.lo, l.hi, l.features, array_length(l.features, 1) AS nf,
         CASE WHEN l.category = 'Phone Accessories'
              THEN l.brand || ' ' || l.line || ' for ' || p.names[1 + floor(d.r_phone * array_length(p.names, 1))::int]
              ELSE l.brand || ' ' || l.line || ' ' || l.code || (1 + floor(d.r_model * l.top))::int::text
                   || w.editions[1 + floor(d.r_edition * array_length(w.editions, 1))::int]
         END || ' ' || l.variants[1 + floor(d.r_variant * array_length(l.variants, 1))::int] AS name,
         w.adjectives[1 + floor(d.r_adjective * array_length(w.adjectives, 1))::int] AS adjective,
         floor(d.r_feature * array_length(l.features, 1))::int AS k
  FROM draws d JOIN numbered l ON l.n = d.line_no CROSS JOIN phones p CROSS JOIN words w
)
INSERT INTO products (id, name, description, image_file, price, category, stock, version, created_at, updated_at)
SELECT gen_random_uuid(), name,
       'The ' || name || ' is ' || CASE WHEN left(adjective, 1) IN ('a', 'e', 'i', 'o', 'u') THEN 'an ' ELSE 'a ' END || adjective || ' ' || noun
       || ' with ' || features[k % nf + 1] || ', ' || features[(k + 1) % nf + 1] || ' and ' || features[(k + 3) % nf + 1] || '.'
       || CASE WHEN pairs AND r_pair < 0.5 THEN ' Works with any phone over Bluetooth.' ELSE '' END,
       '', round(lo * power(hi::numeric / lo, r_price::numeric)) - 0.01, category,
       CASE WHEN r_stock < 0.1 THEN 0 ELSE 1 + floor(r_stock * 500)::int END, 1,
       now() - r_age * interval '365 days', now() - r_age * interval '30 days'
FROM made;
VACUUM ANALYZE products;
VACUUM ANALYZE product_words;
