INSERT INTO ad_spend (date, channel, utm_source, utm_medium, utm_campaign, spend, currency, impressions, clicks)
SELECT date, channel::VARCHAR, utm_source::VARCHAR, utm_medium::VARCHAR, utm_campaign::VARCHAR, spend,
       $currency, impressions, clicks
FROM sim_ad_spend
