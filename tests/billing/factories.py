"""Factories for billing's rows (public schema): usage counters and quota notices of the
current billing period."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from billing.models import QuotaNotice, UsageCounter
from billing.periods import billing_period
from tests.tenants.factories import TenantRowFactory


class UsageCounterFactory(DjangoModelFactory):
    """This month's count of AI answers unless ``metric`` says otherwise."""

    class Meta:
        model = UsageCounter

    tenant = factory.SubFactory(TenantRowFactory)
    period = factory.LazyFunction(billing_period)
    metric = UsageCounter.Metric.AI_ANSWERS
    value = 0


class QuotaNoticeFactory(DjangoModelFactory):
    """The record that the owners were told a quota reached ``level`` percent."""

    class Meta:
        model = QuotaNotice

    tenant = factory.SubFactory(TenantRowFactory)
    period = factory.LazyFunction(billing_period)
    metric = UsageCounter.Metric.AI_ANSWERS
    level = 80
