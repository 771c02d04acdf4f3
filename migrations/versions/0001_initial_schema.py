"""Create the initial schema: book, sources, decisions, alerts and operations.

Revision ID: 0001
Revises: 
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_api_keys_name'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)

    op.create_table('circuit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circuit_events'))
    )
    with op.batch_alter_table('circuit_events', schema=None) as batch_op:
        batch_op.create_index('ix_circuit_events_name_at', ['name', 'at'], unique=False)

    op.create_table('conversation_windows',
    sa.Column('recipient', sa.String(length=40), nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_body', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('recipient', name=op.f('pk_conversation_windows'))
    )
    op.create_table('inbound_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('command', sa.String(length=16), nullable=False),
    sa.Column('decision_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('answered_alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reply_alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('outcome', sa.String(length=200), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('message_sid', name=op.f('uq_inbound_messages_message_sid'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_messages_sender_received', ['sender', 'received_at'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('whatsapp_number', sa.String(length=32), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('risk_tolerance', sa.String(length=16), nullable=False),
    sa.Column('min_severity', sa.String(length=16), nullable=False),
    sa.Column('quiet_hours_start', sa.Integer(), nullable=True),
    sa.Column('quiet_hours_end', sa.Integer(), nullable=True),
    sa.Column('critical_breaks_quiet', sa.Boolean(), nullable=False),
    sa.Column('daily_alert_cap', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    op.create_table('job_periods',
    sa.Column('job', sa.String(length=32), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('worker_id', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('missed_before', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job', 'period_start', name=op.f('pk_job_periods'))
    )
    with op.batch_alter_table('job_periods', schema=None) as batch_op:
        batch_op.create_index('ix_job_periods_status', ['status'], unique=False)

    op.create_table('pipeline_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=32), nullable=False),
    sa.Column('worker_id', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('replay_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signals', sa.Integer(), nullable=False),
    sa.Column('observations', sa.Integer(), nullable=False),
    sa.Column('decisions', sa.Integer(), nullable=False),
    sa.Column('alerts', sa.Integer(), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_runs'))
    )
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.create_index('ix_pipeline_runs_job_started', ['job', 'started_at'], unique=False)
        batch_op.create_index('ix_pipeline_runs_status_job', ['status', 'job'], unique=False)

    op.create_table('reality_observations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('chokepoint', sa.String(length=32), nullable=False),
    sa.Column('metric', sa.String(length=48), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('change_pct', sa.Float(), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reality_observations')),
    sa.UniqueConstraint('source', 'chokepoint', 'metric', 'observed_at', name='uq_observations_key')
    )
    with op.batch_alter_table('reality_observations', schema=None) as batch_op:
        batch_op.create_index('ix_observations_chokepoint_observed', ['chokepoint', 'observed_at'], unique=False)

    op.create_table('reconciliations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chokepoint', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('signal_probability', sa.Float(), nullable=True),
    sa.Column('reality_change_pct', sa.Float(), nullable=True),
    sa.Column('inputs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliations')),
    sa.UniqueConstraint('chokepoint', 'day', name='uq_reconciliations_key')
    )
    op.create_table('replay_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('replay_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replay_state'))
    )
    op.create_table('signals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('chokepoint', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signals')),
    sa.UniqueConstraint('source', 'external_id', 'observed_at', name='uq_signals_key')
    )
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.create_index('ix_signals_chokepoint_observed', ['chokepoint', 'observed_at'], unique=False)

    op.create_table('source_status',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('newest_data_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('records_total', sa.Integer(), nullable=False),
    sa.Column('data_errors_total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_source_status'))
    )
    op.create_table('vessel_sightings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('mmsi', sa.BigInteger(), nullable=False),
    sa.Column('chokepoint', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ship_type', sa.Integer(), nullable=True),
    sa.Column('course', sa.Float(), nullable=True),
    sa.Column('destination', sa.String(length=64), nullable=True),
    sa.Column('diverting', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vessel_sightings')),
    sa.UniqueConstraint('mmsi', 'chokepoint', 'day', name='uq_vessel_sightings_key')
    )
    with op.batch_alter_table('vessel_sightings', schema=None) as batch_op:
        batch_op.create_index('ix_vessel_sightings_chokepoint_day', ['chokepoint', 'day'], unique=False)

    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=64), nullable=False),
    sa.Column('hostname', sa.String(length=128), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('event_key', sa.String(length=96), nullable=False),
    sa.Column('chokepoint', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('recommended_action', sa.String(length=16), nullable=False),
    sa.Column('exposure_usd', sa.Float(), nullable=False),
    sa.Column('expected_loss_usd', sa.Float(), nullable=False),
    sa.Column('action_cost_usd', sa.Float(), nullable=False),
    sa.Column('net_benefit_usd', sa.Float(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('shipment_count', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_expired', sa.Boolean(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('provenance', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('supersedes_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('outcome', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_decisions_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('customer_id', 'event_key', 'version', name='uq_decisions_version')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_active_customer', ['is_expired', 'customer_id'], unique=False)
        batch_op.create_index('ix_decisions_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_decisions_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_decisions_status', ['status'], unique=False)
        batch_op.create_index('uq_decisions_active', ['customer_id', 'event_key'], unique=True, postgresql_where=sa.text('is_expired = false'), sqlite_where=sa.text('is_expired = false'))
        batch_op.create_index('ix_decisions_outcome_pending', ['chokepoint'], unique=False, postgresql_where=sa.text('is_expired = true AND outcome IS NULL'), sqlite_where=sa.text('is_expired = true AND outcome IS NULL'))

    op.create_table('source_forecasts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('forecast_ref', sa.String(length=160), nullable=False),
    sa.Column('event_key', sa.String(length=96), nullable=False),
    sa.Column('chokepoint', sa.String(length=32), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('disrupted', sa.Boolean(), nullable=False),
    sa.Column('decision_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_source_forecasts_decision_id_decisions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_forecasts')),
    sa.UniqueConstraint('source', 'forecast_ref', 'event_key', name='uq_source_forecasts_key')
    )
    with op.batch_alter_table('source_forecasts', schema=None) as batch_op:
        batch_op.create_index('ix_source_forecasts_source', ['source'], unique=False)

    op.create_table('shipments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('origin_port', sa.String(length=8), nullable=False),
    sa.Column('destination_port', sa.String(length=8), nullable=False),
    sa.Column('lane', sa.String(length=32), nullable=False),
    sa.Column('route', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('cargo_value_usd', sa.Float(), nullable=False),
    sa.Column('container_count', sa.Integer(), nullable=False),
    sa.Column('etd', sa.DateTime(timezone=True), nullable=False),
    sa.Column('eta', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=True),
    sa.Column('vessel', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_shipments_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments'))
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index('ix_shipments_customer_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index('ix_shipments_status_eta', ['status', 'eta'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('decision_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decision_version', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('send_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error_code', sa.String(length=16), nullable=True),
    sa.Column('last_error_message', sa.Text(), nullable=True),
    sa.Column('twilio_sid', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content_sid', sa.String(length=64), nullable=True),
    sa.Column('content_variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('fallback_of_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('digest_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_alerts_decision_id_decisions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_alerts_idempotency_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_alerts_customer_sent', ['customer_id', 'sent_at'], unique=False)
        batch_op.create_index('ix_alerts_decision', ['decision_id'], unique=False)
        batch_op.create_index('ix_alerts_kind_sent', ['kind', 'sent_at'], unique=False)
        batch_op.create_index('ix_alerts_recipient_reference', ['recipient', 'reference'], unique=False)
        batch_op.create_index('ix_alerts_recipient_sent', ['recipient', 'sent_at'], unique=False)
        batch_op.create_index('ix_alerts_status_next_attempt', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_alerts_twilio_sid', ['twilio_sid'], unique=False)

    op.create_table('message_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('message_sid', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('error_code', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_message_events_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_events'))
    )
    with op.batch_alter_table('message_events', schema=None) as batch_op:
        batch_op.create_index('ix_message_events_alert_at', ['alert_id', 'at'], unique=False)
        batch_op.create_index('ix_message_events_sid', ['message_sid'], unique=False)

    _create_read_model_indexes()


def _create_read_model_indexes() -> None:
    # Indexes that serve the dashboard's aggregations (engine/readmodels).
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_decisions_active_book', ['customer_id'], unique=False, postgresql_include=['exposure_usd', 'expected_loss_usd', 'severity', 'chokepoint', 'status', 'shipment_count'], postgresql_where=sa.text('NOT is_expired'), sqlite_where=sa.text('is_expired = 0'))
        batch_op.create_index('ix_decisions_created_severity', ['created_at', 'severity'], unique=False, postgresql_include=['exposure_usd'])
        batch_op.create_index('ix_decisions_as_of_severity', ['as_of', 'severity'], unique=False, postgresql_include=['exposure_usd'])
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index('ix_decisions_circuits', 'decisions', [sa.text("(provenance -> 'circuits') jsonb_path_ops")], unique=False, postgresql_using='gin')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_alerts_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('message_events', schema=None) as batch_op:
        batch_op.drop_index('ix_message_events_sid')
        batch_op.drop_index('ix_message_events_alert_at')

    op.drop_table('message_events')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_twilio_sid')
        batch_op.drop_index('ix_alerts_status_next_attempt')
        batch_op.drop_index('ix_alerts_recipient_sent')
        batch_op.drop_index('ix_alerts_recipient_reference')
        batch_op.drop_index('ix_alerts_kind_sent')
        batch_op.drop_index('ix_alerts_decision')
        batch_op.drop_index('ix_alerts_customer_sent')
        batch_op.drop_index('ix_alerts_created_at')

    op.drop_table('alerts')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_shipments_status_eta')
        batch_op.drop_index('ix_shipments_customer_status')

    op.drop_table('shipments')
    with op.batch_alter_table('source_forecasts', schema=None) as batch_op:
        batch_op.drop_index('ix_source_forecasts_source')

    op.drop_table('source_forecasts')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_outcome_pending')
        batch_op.drop_index('uq_decisions_active')
        batch_op.drop_index('ix_decisions_status')
        batch_op.drop_index('ix_decisions_expires_at')
        batch_op.drop_index('ix_decisions_created_at')
        batch_op.drop_index('ix_decisions_active_customer')

    op.drop_table('decisions')
    op.drop_table('worker_heartbeats')
    with op.batch_alter_table('vessel_sightings', schema=None) as batch_op:
        batch_op.drop_index('ix_vessel_sightings_chokepoint_day')

    op.drop_table('vessel_sightings')
    op.drop_table('source_status')
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_chokepoint_observed')

    op.drop_table('signals')
    op.drop_table('replay_state')
    op.drop_table('reconciliations')
    with op.batch_alter_table('reality_observations', schema=None) as batch_op:
        batch_op.drop_index('ix_observations_chokepoint_observed')

    op.drop_table('reality_observations')
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_runs_job_started')
        batch_op.drop_index('ix_pipeline_runs_status_job')

    op.drop_table('pipeline_runs')
    op.drop_table('customers')
    with op.batch_alter_table('job_periods', schema=None) as batch_op:
        batch_op.drop_index('ix_job_periods_status')

    op.drop_table('job_periods')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_messages_sender_received')

    op.drop_table('inbound_messages')
    op.drop_table('conversation_windows')
    with op.batch_alter_table('circuit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_circuit_events_name_at')

    op.drop_table('circuit_events')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_at')

    op.drop_table('audit_log')
    op.drop_table('api_keys')
