//! Accounts and their API keys.

use secrecy::ExposeSecret;

use super::dto::{
    AccountDto, ApiKeyDto, CreateAccountRequest, CreateApiKeyRequest, CreatedApiKey, UpdateAccountRequest,
};
use super::page::{Page, PageQuery};
use super::{Caller, Service, ServiceError};
use crate::store::{Account, ApiKey};

/// The longest account name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

pub fn account_dto(a: Account) -> AccountDto {
    AccountDto { id: a.id, name: a.name, time_zone: a.time_zone, created_at_unix: a.created_at_unix }
}

fn key_dto(k: ApiKey) -> ApiKeyDto {
    ApiKeyDto { id: k.id, account: k.account_id, label: k.label, created_at_unix: k.created_at_unix }
}

fn checked_name(name: &str) -> Result<(), ServiceError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::Invalid(format!("a name must have 1 to {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

impl Service {
    /// Accounts the caller sees (an account key: its own).
    pub fn list_accounts(&self, caller: &Caller, query: &PageQuery) -> Result<Page<AccountDto>, ServiceError> {
        let page = Page::fetch(
            query,
            |s| Some(s.to_string()),
            |a: &Account| a.id.clone(),
            Clone::clone,
            |_| true,
            |after, n| Ok(self.app.store.accounts_page(after.map(String::as_str), n, |a| caller.sees(&a.id))?),
        )?;
        Ok(page.map(account_dto))
    }

    pub fn account(&self, caller: &Caller, id: &str) -> Result<AccountDto, ServiceError> {
        Ok(account_dto(self.visible_account(caller, id)?))
    }

    pub fn create_account(&self, caller: &Caller, req: CreateAccountRequest) -> Result<AccountDto, ServiceError> {
        caller.require_operator()?;
        checked_name(&req.name)?;
        let account = self.app.store.add_account(&req.name, req.time_zone.as_deref().unwrap_or("UTC"))?;
        Ok(account_dto(account))
    }

    /// Renames an account or changes its time zone; its connections are
    /// rescheduled in the new zone.
    pub fn update_account(
        &self,
        caller: &Caller,
        id: &str,
        req: UpdateAccountRequest,
    ) -> Result<AccountDto, ServiceError> {
        caller.require_operator()?;
        self.visible_account(caller, id)?;
        if let Some(name) = &req.name {
            checked_name(name)?;
        }
        let account = self.app.store.update_account(id, req.name.as_deref(), req.time_zone.as_deref())?;
        if req.time_zone.is_some() {
            for c in self.app.store.connections_of(id)? {
                self.reschedule(&c.id)?;
            }
        }
        Ok(account_dto(account))
    }

    /// Deletes an account that has no connections left, and its keys.
    pub fn delete_account(&self, caller: &Caller, id: &str) -> Result<(), ServiceError> {
        caller.require_operator()?;
        self.visible_account(caller, id)?;
        let connections = self.app.store.connections_of(id)?;
        if !connections.is_empty() {
            let connections = connections.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ");
            return Err(ServiceError::AccountInUse { account: id.to_string(), connections });
        }
        self.app.store.revoke_api_keys_of(id)?;
        self.app.store.delete_account(id)?;
        Ok(())
    }

    pub fn create_api_key(
        &self,
        caller: &Caller,
        account: &str,
        req: CreateApiKeyRequest,
    ) -> Result<CreatedApiKey, ServiceError> {
        caller.require_operator()?;
        self.visible_account(caller, account)?;
        let (key, token) = self.app.store.create_api_key(account, &req.label)?;
        Ok(CreatedApiKey { key: key_dto(key), token: token.expose_secret().to_string() })
    }

    pub fn list_api_keys(
        &self,
        caller: &Caller,
        account: &str,
        query: &PageQuery,
    ) -> Result<Page<ApiKeyDto>, ServiceError> {
        caller.require_operator()?;
        self.visible_account(caller, account)?;
        let keys = self.app.store.api_keys_of(account)?.into_iter().map(key_dto);
        Ok(Page::after(keys, query, |s| Some(s.to_string()), |k| k.id.clone(), Clone::clone))
    }

    pub fn revoke_api_key(&self, caller: &Caller, account: &str, key_id: &str) -> Result<(), ServiceError> {
        caller.require_operator()?;
        self.visible_account(caller, account)?;
        if !self.app.store.revoke_api_key(account, key_id)? {
            return Err(ServiceError::NotFound { what: "API key", id: key_id.to_string() });
        }
        Ok(())
    }

    /// Who a bearer token belongs to, if anyone. The operator token is
    /// checked by the caller (it is not in the store).
    pub fn authenticate_key(&self, token: &str) -> Result<Option<Caller>, ServiceError> {
        Ok(self.app.store.authenticate_api_key(token)?.map(|k| Caller::Account(k.account_id)))
    }
}
