-- Extends the audit hash chain in one statement: the chain lock, the previous hash, the new row's hash and
-- its insert happen inside the database, so no round trip to the application is made while the lock is
-- held (before, three were). The application sends the event's RFC 8785 canonical JSON split around the
-- previous hash (`canon_head` || prev_hash || `canon_tail`), so the hash is exactly the one
-- `pnpm audit:verify` recomputes in JavaScript. The lock is the transaction's: it is released when the
-- caller's transaction (or the lone statement) commits, which keeps `seq` the commit order of the chain.
CREATE FUNCTION audit_append(
  p_id uuid, p_type text, p_actor_id uuid, p_target_type text, p_target_id text, p_client_ip text,
  p_request_id text, p_data jsonb, p_created_at timestamptz, canon_head text, canon_tail text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  prev text;
  new_seq bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(1460248785); -- 0x5709a0d1, the chain lock of audit.service.ts
  SELECT hash INTO prev FROM audit_events ORDER BY seq DESC LIMIT 1;
  prev := coalesce(prev, repeat('0', 64));
  INSERT INTO audit_events (id, type, actor_id, target_type, target_id, client_ip, request_id, data,
                            created_at, prev_hash, hash)
  VALUES (p_id, p_type, p_actor_id, p_target_type, p_target_id, p_client_ip, p_request_id, p_data,
          p_created_at, prev, encode(sha256(convert_to(canon_head || prev || canon_tail, 'UTF8')), 'hex'))
  RETURNING seq INTO new_seq;
  RETURN new_seq;
END;
$$;
