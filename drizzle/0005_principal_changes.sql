-- Instances cache who a session belongs to (role, tier) for a few seconds. Any change that must end or
-- alter that answer is announced on the `principal_changes` channel, delivered at commit to every
-- instance's listener. Triggers, not application code, send it, so no code path (or an operator's
-- manual UPDATE) can forget to.
CREATE FUNCTION announce_principal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'sessions' THEN
    PERFORM pg_notify('principal_changes', 'session:' || OLD.id);
  ELSE
    PERFORM pg_notify('principal_changes', 'user:' || OLD.id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_principal_change AFTER UPDATE ON sessions FOR EACH ROW
  WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION announce_principal_change();
--> statement-breakpoint
CREATE TRIGGER sessions_principal_removed AFTER DELETE ON sessions FOR EACH ROW
  EXECUTE FUNCTION announce_principal_change();
--> statement-breakpoint
CREATE TRIGGER users_principal_change AFTER UPDATE ON users FOR EACH ROW
  WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.tier IS DISTINCT FROM NEW.tier
    OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at)
  EXECUTE FUNCTION announce_principal_change();
--> statement-breakpoint
CREATE TRIGGER users_principal_removed AFTER DELETE ON users FOR EACH ROW
  EXECUTE FUNCTION announce_principal_change();
