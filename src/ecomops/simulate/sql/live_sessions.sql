-- Douyin live broadcasts; ended_at is NULL for a show still on air at the window's end.
INSERT INTO live_sessions (live_session_id, channel, host, title, started_at, ended_at, peak_viewers,
                           total_viewers)
SELECT printf('sim_live%05d', live), 'douyin', host::VARCHAR, title, started_at, ended_at, peak_viewers,
       total_viewers
FROM sim_live
