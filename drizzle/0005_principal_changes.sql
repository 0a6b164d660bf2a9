-- Instances cache who a session belongs to (role, tier) for a few seconds. Any change that must end or
-- alter that answer is announced on the `principal_changes` channel, delivered at commit to every
-- instance's listener. Triggers, not application code, send it, so no code path (or an operator's
-- manual UPDATE) can forget to. `UPDATE OF` fires for statements that set those columns, which the hot
-- paths (quota charges, refresh-token rotation) never do.
CREATE FUNCTION announce_principal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('principal_changes',
    CASE TG_TABLE_NAME WHEN 'sessions' THEN 'session:' ELSE 'user:' END || OLD.id);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_principal_change AFTER UPDATE OF revoked_at, expires_at, user_id OR DELETE
  ON sessions FOR EACH ROW EXECUTE FUNCTION announce_principal_change();
--> statement-breakpoint
CREATE TRIGGER users_principal_change AFTER UPDATE OF role, tier, disabled_at OR DELETE
  ON users FOR EACH ROW EXECUTE FUNCTION announce_principal_change();
