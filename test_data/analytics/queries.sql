-- Projections, arithmetic, NULLs and filters
SELECT id, value * 2 AS doubled, count + 1 AS next, value / 3 AS third FROM readings WHERE id <= 20 ORDER BY id;
SELECT id, sensor FROM readings WHERE value IS NULL ORDER BY id;
SELECT count(*) AS n FROM readings WHERE region IS NULL;
SELECT id FROM readings WHERE sensor IN ('c', 'd') AND value BETWEEN 25 AND 30 AND ok ORDER BY id;
SELECT id FROM readings WHERE NOT ok AND (region = 'north' OR region = 'south') AND count > 90 ORDER BY id;
SELECT id, sensor FROM readings WHERE sensor NOT IN ('a', 'b', 'c') AND id < 200 ORDER BY id;
SELECT id FROM readings WHERE region LIKE 's%' AND count % 10 = 0 ORDER BY id;
SELECT id, CASE WHEN value > 30 THEN 'hot' WHEN value > 20 THEN 'warm' ELSE 'cold' END AS band FROM readings WHERE id <= 30 ORDER BY id;
SELECT id, coalesce(region, 'unknown') AS r, nullif(count, 0) AS c FROM readings WHERE id <= 25 ORDER BY id;
SELECT id, CAST(value AS BIGINT) AS v, CAST(count AS DOUBLE) / 7 AS c, upper(sensor) || '-' || lower(coalesce(region, 'NONE')) AS label FROM readings WHERE id <= 15 ORDER BY id;
SELECT id, abs(value - 20) AS dev, round(value, 1) AS r1, floor(value) AS f, ceil(value) AS c, length(region) AS len FROM readings WHERE id <= 15 ORDER BY id;
SELECT id, ts FROM readings WHERE ts >= TIMESTAMP '2024-01-03 00:00:00' AND ts < TIMESTAMP '2024-01-03 06:00:00' ORDER BY id;
SELECT id, year(ts) AS y, month(ts) AS m, day(ts) AS d, hour(ts) AS h, date_trunc('day', ts) AS day FROM readings WHERE id % 500 = 1 ORDER BY id;
-- Aggregates and grouping
SELECT count(*) AS n, count(value) AS nv, sum(count) AS total, avg(value) AS mean, min(value) AS lo, max(value) AS hi, min(ts) AS first, max(sensor) AS last_sensor FROM readings;
SELECT sensor, count(*) AS n, sum(count) AS total, avg(value) AS mean, stddev_samp(value) AS sd, var_pop(value) AS vp FROM readings GROUP BY sensor ORDER BY sensor;
SELECT region, sensor, count(*) AS n, max(value) AS hi FROM readings GROUP BY region, sensor ORDER BY region NULLS FIRST, sensor;
SELECT sensor, count(DISTINCT region) AS regions, count(DISTINCT count) AS counts FROM readings GROUP BY sensor ORDER BY sensor;
SELECT sensor, median(value) AS med FROM readings GROUP BY sensor ORDER BY sensor;
SELECT sensor, count(*) AS n FROM readings GROUP BY sensor HAVING count(*) > 200 ORDER BY n DESC;
SELECT sensor, avg(value) AS mean FROM readings WHERE ok GROUP BY sensor HAVING avg(value) > 25 AND count(*) > 10 ORDER BY sensor;
SELECT date_trunc('month', ts) AS month, count(*) AS n, round(avg(value), 6) AS mean FROM readings GROUP BY 1 ORDER BY 1;
SELECT ok, count(*) AS n FROM readings GROUP BY ok ORDER BY ok;
SELECT count(*) AS n, sum(value) AS s FROM readings WHERE id < 0;
SELECT sensor, region, count(*) AS n, sum(count) AS total FROM readings GROUP BY ROLLUP (sensor, region) ORDER BY sensor NULLS LAST, region NULLS LAST, n;
SELECT sensor, ok, count(*) AS n FROM readings WHERE sensor IN ('a', 'b', 'c') GROUP BY CUBE (sensor, ok) ORDER BY sensor NULLS LAST, ok NULLS LAST;
SELECT sensor, region, count(*) AS n, GROUPING(sensor, region) AS g FROM readings WHERE region IN ('north', 'east') GROUP BY GROUPING SETS ((sensor), (region), ()) ORDER BY g, sensor NULLS LAST, region NULLS LAST;
SELECT DISTINCT sensor FROM readings ORDER BY sensor;
SELECT DISTINCT region, ok FROM readings ORDER BY region NULLS FIRST, ok;
SELECT count(*) AS n FROM (SELECT DISTINCT sensor, region FROM readings) AS t;
-- Order, limit, offset
SELECT id, value FROM readings WHERE value IS NOT NULL ORDER BY value DESC, id LIMIT 10;
SELECT id, value FROM readings ORDER BY value NULLS FIRST, id LIMIT 5 OFFSET 3;
SELECT id, count FROM readings ORDER BY count DESC NULLS LAST, id DESC LIMIT 7;
SELECT sensor, region, id FROM readings WHERE id <= 40 ORDER BY sensor, region DESC NULLS LAST, id;
-- Joins
SELECT r.id, r.sensor, s.kind, s.threshold FROM readings r JOIN sensors s ON r.sensor = s.sensor WHERE r.id <= 30 ORDER BY r.id;
SELECT r.id, s.kind FROM readings AS r LEFT JOIN sensors AS s ON r.sensor = s.sensor WHERE r.id <= 40 ORDER BY r.id;
SELECT s.kind, count(*) AS n, avg(r.value) AS mean FROM readings r JOIN sensors s ON r.sensor = s.sensor GROUP BY s.kind ORDER BY s.kind;
SELECT s.sensor, count(r.id) AS n FROM sensors s LEFT JOIN readings r ON s.sensor = r.sensor AND r.value > 30 GROUP BY s.sensor ORDER BY s.sensor;
SELECT r.id, s.sensor FROM readings r JOIN sensors s ON r.sensor = s.sensor AND r.value > s.threshold WHERE r.id < 300 ORDER BY r.id;
SELECT a.id, b.id AS next_id FROM readings a JOIN readings b ON b.id = a.id + 1 WHERE a.id <= 10 ORDER BY a.id;
SELECT s.sensor, t.kind FROM sensors s CROSS JOIN (SELECT DISTINCT kind FROM sensors) t WHERE s.sensor IN ('a', 'z') ORDER BY s.sensor, t.kind;
-- CTEs and subqueries
WITH hot AS (SELECT sensor, avg(value) AS mean FROM readings GROUP BY sensor), ranked AS (SELECT sensor, mean FROM hot WHERE mean > 22) SELECT sensor, round(mean, 6) AS mean FROM ranked ORDER BY mean DESC;
WITH daily AS (SELECT date_trunc('day', ts) AS day, sensor, count(*) AS n FROM readings GROUP BY 1, 2) SELECT d.day, d.n, s.kind FROM daily d JOIN sensors s ON d.sensor = s.sensor WHERE d.n >= 4 ORDER BY d.day, s.kind, d.n;
SELECT t.sensor, t.n FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor) AS t WHERE t.n < 300 ORDER BY t.sensor;
SELECT sensor FROM sensors WHERE kind = 'thermo' UNION ALL SELECT sensor FROM sensors WHERE threshold > 30 ORDER BY sensor;
SELECT kind FROM sensors UNION SELECT 'extra' ORDER BY kind;
-- Window functions
SELECT id, sensor, ROW_NUMBER() OVER (PARTITION BY sensor ORDER BY id) AS rn FROM readings WHERE id <= 50 ORDER BY id;
SELECT id, count, RANK() OVER (ORDER BY count DESC NULLS LAST) AS rk, DENSE_RANK() OVER (ORDER BY count DESC NULLS LAST) AS drk FROM readings WHERE id <= 40 ORDER BY id;
SELECT id, value, LAG(value) OVER (ORDER BY id) AS prev, LEAD(value, 2) OVER (ORDER BY id) AS next2, LAG(value, 1, 0) OVER (ORDER BY id) AS prev0 FROM readings WHERE id <= 30 ORDER BY id;
SELECT id, sensor, sum(count) OVER (PARTITION BY sensor ORDER BY id) AS running, count(*) OVER (PARTITION BY sensor) AS in_sensor FROM readings WHERE id <= 60 ORDER BY id;
SELECT id, avg(value) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS smooth, min(value) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS lo, max(value) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi FROM readings WHERE id <= 40 ORDER BY id;
SELECT id, sum(value) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS rest, first_value(value) OVER (PARTITION BY sensor ORDER BY id) AS first_v, count(value) OVER (ORDER BY id ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING) AS before5 FROM readings WHERE id <= 35 ORDER BY id;
SELECT sensor, n, RANK() OVER (ORDER BY n DESC) AS place FROM (SELECT sensor, count(*) AS n FROM readings GROUP BY sensor) t ORDER BY place, sensor;
SELECT sensor, count(*) AS n, sum(count(*)) OVER () AS total, ROW_NUMBER() OVER (ORDER BY count(*) DESC) AS rn FROM readings GROUP BY sensor ORDER BY rn;
SELECT id, ntile(4) OVER (ORDER BY id) AS quartile, percent_rank() OVER (ORDER BY id) AS pr FROM readings WHERE id <= 10 ORDER BY id;
SELECT id, region, ROW_NUMBER() OVER (PARTITION BY region ORDER BY value DESC NULLS LAST, id) AS pos FROM readings WHERE id <= 80 ORDER BY region NULLS FIRST, pos;

-- exact quantiles (quantile_cont), per group and of an integer column
SELECT sensor, quantile_cont(value, 0.9) AS p90, quantile_cont(value, 0.1) AS p10 FROM readings GROUP BY sensor ORDER BY sensor;
SELECT quantile_cont(count, 0.25) AS q1, quantile_cont(count, 0.75) AS q3 FROM readings;
